// Builds every publishable tarball into dist/ (or --out DIR): the ioperm package
// with its prebuilt binaries (linux-x64 libioperm.so; win32-x64 and win32-ia32
// ioperm.dll, ioperm.sys, iopermctl.exe), staged in .cache/pack/ from the
// package.json "files" list so nothing else can slip in. Prints each tarball's
// size and SHA-256. npm pack fixes file times and order, and the Zig build is
// deterministic, so the same tree gives the same bytes.
//   bun scripts/pack.ts [--out DIR]
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { devLibrary, devTool, devWindowsDir, packageRoot as root } from "../lib/paths.ts";

/** prebuilt/<platform>/<file> ← the build output it comes from. */
export function prebuiltSources(): Record<string, string> {
  return {
    "linux-x64/libioperm.so": devLibrary("linux-x64"),
    "linux-x64/ioperm-run": devTool("ioperm-run"),
    "linux-x64/ioperm-noports": devTool("ioperm-noports"),
    "win32-x64/ioperm.dll": devLibrary("win32-x64"),
    "win32-x64/ioperm.sys": join(devWindowsDir("x64"), "ioperm.sys"),
    "win32-x64/iopermctl.exe": join(devWindowsDir("x64"), "iopermctl.exe"),
    "win32-ia32/ioperm.dll": join(devWindowsDir("x86"), "ioperm.dll"),
    "win32-ia32/ioperm.sys": join(devWindowsDir("x86"), "ioperm.sys"),
    "win32-ia32/iopermctl.exe": join(devWindowsDir("x86"), "iopermctl.exe"),
  };
}

function run(cmd: string[], cwd = root): string {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}:\n${r.stderr}`);
  return r.stdout.toString();
}

/** Builds the binaries and lays the package out in .cache/pack/ioperm; returns that directory. */
export function stage(): string {
  run(["sh", "scripts/build.sh"]);
  const sign = Bun.which("osslsigncode") && Bun.which("openssl") ? [] : ["-Dsign=false"];
  run(["sh", "scripts/windows/build.sh", ...sign]);
  const dir = join(root, ".cache", "pack", "ioperm");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<string, unknown> & { files: string[] };
  for (const entry of pkg.files) {
    if (entry === "prebuilt/") continue;
    cpSync(join(root, entry), join(dir, entry), { recursive: true });
  }
  for (const [rel, from] of Object.entries(prebuiltSources())) {
    if (!existsSync(from)) throw new Error(`pack: ${from} is missing after the build`);
    mkdirSync(join(dir, "prebuilt", rel, ".."), { recursive: true });
    copyFileSync(from, join(dir, "prebuilt", rel));
  }
  // What a user installs has no build scripts and no dev tools: nothing runs at install time.
  const { scripts: _s, devDependencies: _d, ...published } = pkg;
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(published, null, 2)}\n`);
  return dir;
}

/** Packs the staged package into `out`; returns the tarball's path. */
export function pack(out: string): string {
  const dir = stage();
  mkdirSync(out, { recursive: true });
  const name = run(["npm", "pack", "--silent", "--pack-destination", out], dir).trim().split("\n").pop() ?? "";
  return join(out, name);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: "string", default: join(root, "dist") } } });
  const out = resolve(values.out);
  const tarball = pack(out);
  const sha = new Bun.CryptoHasher("sha256").update(readFileSync(tarball)).digest("hex");
  console.log(`${tarball}  ${(statSync(tarball).size / 1024).toFixed(1)} KiB  sha256 ${sha}`);
}
