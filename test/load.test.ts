// Host tests of locating and loading the native library. Resolution order:
// IOPERM_LIB, the embedded binary of a compiled executable, the package's
// prebuilt/<platform>-<arch>/, the development build. A missing, corrupt,
// truncated, wrong-architecture or stale binary at any step gives LOAD_FAILED
// or ABI_MISMATCH naming the file, never a crash: each load runs in a child.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binaryProblem } from "../lib/binary.ts";
import { symbolNames } from "../lib/ffi.ts";
import { devLibrary, devWindowsDir, packageRoot as root } from "../lib/paths.ts";
import { asNobody } from "./nobody.ts";

const zig = join(root, ".cache", "bin", "zig");
const work = mkdtempSync(join(tmpdir(), "ioperm-load-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Outcome {
  code: string;
  message: string;
  path?: string;
}

/** Opens the library from `pkg` (a copy of the package) in a child process; its verdict, or how it died. */
function tryOpen(pkg: string, env: Record<string, string | undefined> = {}, embedded?: string): Outcome {
  const script = `
    import { open, libraryPath } from "./lib/index.ts";
    ${embedded ? `import { useEmbeddedLibrary } from "./lib/ffi.ts"; useEmbeddedLibrary(${JSON.stringify(embedded)});` : ""}
    try { open(); console.log(JSON.stringify({ code: "opened", message: "", path: libraryPath() })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const { IOPERM_LIB: _, ...base } = process.env;
  const r = Bun.spawnSync([process.execPath, "-e", script], { cwd: pkg, env: { ...base, ...env }, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0 || r.signalCode) return { code: `died: exit ${r.exitCode} ${r.signalCode ?? ""}`, message: r.stderr.toString() };
  return JSON.parse(r.stdout.toString()) as Outcome;
}

/** A copy of the package's lib/ in a fresh directory, with `files` placed relative to it. */
function packageWith(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  cpSync(join(root, "lib"), join(dir, "lib"), { recursive: true });
  for (const [rel, from] of Object.entries(files)) {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    copyFileSync(from, join(dir, rel));
  }
  return dir;
}

// The bad binaries, each made here from the real one or built for the purpose.
const real = devLibrary();
const bad: Record<string, string> = {};
bad.truncated = join(work, "truncated.so");
writeFileSync(bad.truncated, readFileSync(real).subarray(0, 1500));
bad.corrupt = join(work, "corrupt.so");
writeFileSync(bad.corrupt, Buffer.concat([readFileSync(real).subarray(0, 64), Buffer.alloc(4096, 0xa5)]));
bad.notElf = join(work, "not-elf.so");
writeFileSync(bad.notElf, "this is not a shared library\n");
/** Builds a shared library from C with the pinned Zig; null when Zig is missing (npm test installs it). */
function cc(name: string, target: string, source: string): string {
  const c = join(work, `${name}.c`);
  const out = join(work, `${name}.so`);
  writeFileSync(c, source);
  const r = Bun.spawnSync([zig, "cc", "-target", target, "-shared", "-o", out, c], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`zig cc ${name}: ${r.stderr}`);
  return out;
}
bad.wrongArch = cc("aarch64", "aarch64-linux-musl", "int ioperm_abi_version(void) { return 1; }\n");
bad.stale = cc(
  "stale-abi",
  "x86_64-linux-musl",
  `${symbolNames.map((n) => `int ${n}(void) { return ${n === "ioperm_abi_version" ? 999 : 0}; }`).join("\n")}\n`,
);

const remedies = { dev: "npm run build", prebuilt: "reinstall the package", env: "IOPERM_LIB" };

describe("resolution order", () => {
  test("nothing anywhere: LOAD_FAILED names every path tried", () => {
    const pkg = packageWith("empty", {});
    const r = tryOpen(pkg);
    expect(r.code).toBe("LOAD_FAILED");
    expect(r.message).toContain(join(pkg, "prebuilt", "linux-x64", "libioperm.so"));
    expect(r.message).toContain(join(pkg, "zig", "zig-out", "lib", "libioperm.so"));
  });
  test("the prebuilt binary wins over the development build", () => {
    const pkg = packageWith("both", { "prebuilt/linux-x64/libioperm.so": real, "zig/zig-out/lib/libioperm.so": bad.corrupt! });
    expect(tryOpen(pkg)).toEqual({ code: "opened", message: "", path: join(pkg, "prebuilt/linux-x64/libioperm.so") });
  });
  test("the development build is used when nothing is prebuilt", () => {
    const pkg = packageWith("dev", { "zig/zig-out/lib/libioperm.so": real });
    expect(tryOpen(pkg).path).toBe(join(pkg, "zig/zig-out/lib/libioperm.so"));
  });
  test("the embedded binary wins over prebuilt", () => {
    const pkg = packageWith("embedded", { "prebuilt/linux-x64/libioperm.so": bad.corrupt! });
    expect(tryOpen(pkg, {}, real).path).toBe(real);
  });
  test("IOPERM_LIB wins over everything, and alone: a missing one is not silently replaced", () => {
    const pkg = packageWith("env", { "prebuilt/linux-x64/libioperm.so": real });
    expect(tryOpen(pkg, { IOPERM_LIB: real }, bad.corrupt).path).toBe(real);
    const missing = tryOpen(pkg, { IOPERM_LIB: "/nonexistent/libioperm.so" });
    expect(missing.code).toBe("LOAD_FAILED");
    expect(missing.message).toContain("/nonexistent/libioperm.so (IOPERM_LIB)");
  });
});

describe("bad binaries at each step: a typed error naming the file, never a crash", () => {
  for (const [kind, file] of Object.entries(bad)) {
    const want = kind === "stale" ? "ABI_MISMATCH" : "LOAD_FAILED";
    test(`${kind} as the development build: ${want}`, () => {
      const pkg = packageWith(`dev-${kind}`, { "zig/zig-out/lib/libioperm.so": file });
      const r = tryOpen(pkg);
      expect(r.code).toBe(want);
      expect(r.message).toContain(join(pkg, "zig/zig-out/lib/libioperm.so"));
      expect(r.message).toContain(remedies.dev);
    });
    test(`${kind} as the prebuilt binary: ${want}`, () => {
      const pkg = packageWith(`prebuilt-${kind}`, { "prebuilt/linux-x64/libioperm.so": file });
      const r = tryOpen(pkg);
      expect(r.code).toBe(want);
      expect(r.message).toContain(join(pkg, "prebuilt/linux-x64/libioperm.so"));
      expect(r.message).toContain(remedies.prebuilt);
    });
    test(`${kind} as IOPERM_LIB: ${want}`, () => {
      const r = tryOpen(packageWith(`env-${kind}`, {}), { IOPERM_LIB: file });
      expect(r.code).toBe(want);
      expect(r.message).toContain(file);
      expect(r.message).toContain(remedies.env);
    });
    test(`${kind} as the embedded binary: ${want}`, () => {
      const r = tryOpen(packageWith(`emb-${kind}`, {}), {}, file);
      expect(r.code).toBe(want);
      expect(r.message).toContain(file);
    });
  }
});

describe("IOPERM_LIB in a privileged process", () => {
  const isRoot = process.getuid?.() === 0;
  test.skipIf(!isRoot)(`refused when a non-root user could replace it${isRoot ? "" : " (skipped: needs root)"}`, () => {
    const dir = join(work, "writable");
    mkdirSync(dir, { recursive: true });
    const lib = join(dir, "libioperm.so");
    copyFileSync(real, lib);
    chmodSync(lib, 0o666);
    const r = tryOpen(packageWith("priv-writable", {}), { IOPERM_LIB: lib });
    expect(r.code).toBe("LOAD_FAILED");
    expect(r.message).toContain(`refusing IOPERM_LIB=${lib}`);
    expect(r.message).toContain("writable by every user");
    chmodSync(lib, 0o755);
    expect(tryOpen(packageWith("priv-safe", {}), { IOPERM_LIB: lib }).path).toBe(lib);
  });
  test.skipIf(!isRoot)(`an unprivileged process may use any IOPERM_LIB${isRoot ? "" : " (skipped: needs root to drop to nobody)"}`, () => {
    const lib = join(work, "writable", "libioperm.so");
    chmodSync(lib, 0o666);
    chmodSync(work, 0o755);
    const pkg = packageWith("priv-nobody", {});
    const r = Bun.spawnSync(
      [...asNobody, process.execPath, "-e", 'import { open, libraryPath } from "./lib/index.ts"; open(); console.log(libraryPath())'],
      { cwd: pkg, env: { ...process.env, IOPERM_LIB: lib, HOME: "/tmp" }, stdout: "pipe", stderr: "pipe" },
    );
    expect(r.stdout.toString().trim()).toBe(lib);
  });
});

describe("binaryProblem reads the headers the loader would trust", () => {
  test("ELF: the real library passes; truncated, wrong-architecture and non-ELF files say why", () => {
    expect(binaryProblem(readFileSync(real), "linux", "x64")).toBe("");
    expect(binaryProblem(readFileSync(bad.truncated!), "linux", "x64")).toMatch(/^truncated: /);
    expect(binaryProblem(readFileSync(bad.wrongArch!), "linux", "x64")).toBe("built for AArch64, not this CPU");
    expect(binaryProblem(readFileSync(bad.notElf!), "linux", "x64")).toBe("not an ELF shared library");
    expect(binaryProblem(readFileSync(real), "linux", "arm64")).toContain("needs an x86 CPU");
  });
  const dll = devLibrary("win32-x64");
  const x86dll = join(devWindowsDir("x86"), "ioperm.dll");
  test("PE: the built ioperm.dll passes for win32-x64; the x86 one is the wrong CPU there; a truncated one says so", () => {
    expect(binaryProblem(readFileSync(dll), "win32", "x64")).toBe("");
    expect(binaryProblem(readFileSync(x86dll), "win32", "x64")).toBe("built for x86 (32-bit), not this CPU");
    expect(binaryProblem(readFileSync(x86dll), "win32", "ia32")).toBe("");
    expect(binaryProblem(readFileSync(dll).subarray(0, 4096), "win32", "x64")).toMatch(/^truncated: /);
    expect(binaryProblem(readFileSync(real), "win32", "x64")).toBe("not a PE (Windows) DLL");
  });
});
