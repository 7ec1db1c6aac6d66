// Host tests: every message names the command that works where the user is. The
// decisions are pure (a place and the process's facts in, a command line out);
// the checkout case is also shown end to end here, since this repository is one.
// The installed and compiled cases run from a fresh project in test/newuser.test.ts.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot as root } from "../lib/paths.ts";
import { commandFor, type Here, labCommand, machineProblem, placeOf, selfCommand } from "../lib/where.ts";

const at = (h: Partial<Here>): Here => ({
  place: "installed",
  cwd: "/home/u/rig",
  execPath: "/usr/bin/bun",
  main: "/home/u/rig/rig.ts",
  cli: false,
  ...h,
});

test("the place follows from the package root: node_modules, a $bunfs executable (POSIX and Windows), else a checkout", () => {
  expect(placeOf("/home/u/rig/node_modules/ioperm")).toBe("installed");
  expect(placeOf("C:\\Users\\u\\rig\\node_modules\\ioperm")).toBe("installed");
  expect(placeOf("/$bunfs/root")).toBe("compiled");
  expect(placeOf("/$bunfs")).toBe("compiled"); // the package root when lib/ sits at /$bunfs/root
  expect(placeOf("B:\\~BUN")).toBe("compiled");
  expect(placeOf("B:\\~BUN\\root")).toBe("compiled");
  expect(placeOf("/home/u/src/ioperm")).toBe("checkout");
  expect(placeOf(root)).toBe("checkout");
});

test("installed: bunx ioperm, and the user's own script by its path from here", () => {
  expect(commandFor("doctor", at({}))).toBe("bunx ioperm doctor");
  expect(labCommand(at({}))).toBe("bunx ioperm lab -- bun rig.ts");
  expect(labCommand(at({ main: "/home/u/rig/tools/rig.ts" }))).toBe("bunx ioperm lab -- bun tools/rig.ts");
  expect(labCommand(at({ main: "/home/u/rig/my rig.ts" }))).toBe("bunx ioperm lab -- bun 'my rig.ts'");
  // ioperm's own programs (the CLI, the probe) and a REPL have no script of the user's to name.
  expect(labCommand(at({ main: join(root, "lib", "cli.ts") }))).toBe("bunx ioperm lab -- bun <script>");
  expect(labCommand(at({ main: "[eval]" }))).toBe("bunx ioperm lab -- bun <script>");
});

test("checkout: bun lib/cli.ts from the repository root, its path from elsewhere", () => {
  expect(commandFor("lab -- bun rig.ts", at({ place: "checkout", cwd: root }))).toBe("bun lib/cli.ts lab -- bun rig.ts");
  // A directory beside the checkout, not above it (a CI clone may live under /tmp, where "ci1/lib/cli.ts" would be right).
  const elsewhere = join(root, "..", "not-the-checkout");
  expect(commandFor("doctor", at({ place: "checkout", cwd: elsewhere }))).toBe(`bun ${join(root, "lib", "cli.ts")} doctor`);
  expect(commandFor("doctor", at({ place: "checkout", cwd: join(root, "..") }))).toBe(
    `bun ${join(root.split("/").pop() ?? "", "lib", "cli.ts")} doctor`,
  );
  expect(labCommand(at({ place: "checkout", cwd: root, main: join(root, "examples", "rig.ts") }))).toBe(
    "bun lib/cli.ts lab -- bun examples/rig.ts",
  );
});

test("compiled: a rig names itself to the lab; a compiled ioperm names itself", () => {
  const rig = at({ place: "compiled", cwd: "/opt", execPath: "/opt/rig", main: "/$bunfs/root/rig" });
  expect(selfCommand(rig)).toBe("./rig");
  expect(labCommand(rig)).toBe("bunx ioperm lab -- ./rig");
  expect(commandFor("driver install", { ...rig, execPath: "/opt/bin/ioperm", cli: true })).toBe("bin/ioperm driver install");
  expect(commandFor("doctor", { ...rig, cwd: "/home", execPath: "/opt/ioperm", cli: true })).toBe("/opt/ioperm doctor");
});

test("port I/O exists only on x86 Linux and Windows; elsewhere the reason and the lab", () => {
  for (const [platform, arch] of [
    ["linux", "x64"],
    ["linux", "ia32"],
    ["win32", "x64"],
  ] as const)
    expect(machineProblem(platform, arch, at({}))).toBe("");
  expect(machineProblem("linux", "arm64", at({}))).toBe(
    "port I/O exists only on x86 CPUs (the in/out instructions), and this is linux-arm64; run it in the lab VM, an x86 PC that QEMU emulates on any machine: bunx ioperm lab -- bun rig.ts",
  );
  expect(machineProblem("darwin", "arm64", at({}))).toContain("only on x86 CPUs");
  expect(machineProblem("darwin", "x64", at({}))).toStartWith("port I/O is reached through Linux (ioperm, /dev/port) or Windows");
  expect(machineProblem("darwin", "x64", at({ place: "checkout", cwd: root, main: join(root, "rig.ts") }))).toEndWith(
    "bun lib/cli.ts lab -- bun rig.ts",
  );
});

/** Runs a command in the checkout, out and err apart. */
function run(cmd: string[]) {
  const r = Bun.spawnSync(cmd, { cwd: root, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

// This host's kernel has no ioperm and no /dev/port: every remedy below is the real one a user here gets.
test("in the checkout, doctor and the probe name bun lib/cli.ts, never bunx or a bun run script", () => {
  const doctor = run([process.execPath, "lib/cli.ts", "doctor"]);
  expect(doctor.code).toBe(1);
  expect(doctor.stdout).toContain("in the lab VM: bun lib/cli.ts lab -- bun <script>");
  const probe = run([process.execPath, "lib/cli.ts", "probe"]);
  expect(probe.code).toBe(2);
  expect(probe.stderr).toContain("To survey the lab VM's hardware instead: bun lib/cli.ts probe --vm");
  for (const out of [doctor.stdout, probe.stderr]) expect(out).not.toMatch(/bunx|bun run/);
});

test("open() on an arm64 process is UNSUPPORTED with the reason and the lab, before any library is looked for", () => {
  // A child whose process.arch says arm64 (set before the library is imported): the decision and its wiring in open().
  const script = `Object.defineProperty(process, "arch", { value: "arm64" });
const { open } = await import(${JSON.stringify(join(root, "lib", "index.ts"))});
try { open(); console.log("opened"); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`;
  const r = run([process.execPath, "-e", script]);
  const e = JSON.parse(r.stdout) as { name: string; code: string; message: string };
  expect(e.name).toBe("IopermError");
  expect(e.code).toBe("UNSUPPORTED");
  expect(e.message).toStartWith(
    "open(): port I/O exists only on x86 CPUs (the in/out instructions), and this is linux-arm64; run it in the lab VM",
  );
  expect(e.message).toContain("bun lib/cli.ts lab -- bun <script>");
  expect(e.message).not.toContain("tried");
});

test("an executable compiled from a checkout (which has no prebuilt/) says it carries no library and how to build one that does", () => {
  const dir = mkdtempSync(join(tmpdir(), "ioperm-where-"));
  try {
    writeFileSync(join(dir, "rig.ts"), `import { open } from ${JSON.stringify(join(root, "lib", "index.ts"))};\nopen();\n`);
    const built = run([process.execPath, "build", "--compile", join(dir, "rig.ts"), "--outfile", join(dir, "rig")]);
    expect(built.code, built.stderr).toBe(0);
    const r = Bun.spawnSync(["./rig"], { cwd: dir, env: { PATH: "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain(
      "this executable carries no library for this platform: build it with `bun build --compile` in a project that installed ioperm (bun add ioperm)",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test("ioperm doctor on an arm64 process says port I/O exists only on x86 and points at the lab", () => {
  const script = `Object.defineProperty(process, "arch", { value: "arm64" });
const { command } = await import(${JSON.stringify(join(root, "lib", "cli", "doctor.ts"))});
process.exit(await command.run([]));`;
  const r = run([process.execPath, "-e", script]);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain("ioperm doctor: port I/O is refused here");
  expect(r.stdout).toContain(
    "Why: port I/O exists only on x86 CPUs (the in/out instructions), and this is linux-arm64; run it in the lab VM",
  );
});
