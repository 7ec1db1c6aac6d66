// The lab's arguments (`ioperm lab`, lib/cli/lab.ts, and runLab's options):
// an out-of-range timeout or memory size, and an option value that is really
// the next option, are refused with exit 64 and what to write instead, before
// anything is installed or booted. The witness of "before": the lab cache
// (IOPERM_CACHE, fresh for each run) is never created. No VM boots here.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryMiB, splitArgv, timeoutMs, UsageError } from "../lib/cli/lab.ts";
import { labLimits, runLab } from "../lib/lab/index.ts";
import { qemuTraceArgs } from "../lib/lab/vm.ts";
import { packageRoot as root } from "../lib/paths.ts";

const work = mkdtempSync(join(tmpdir(), "ioperm-labargs-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const hostMiB = labLimits.maxMemoryMiB();

/** `ioperm lab ARGS` with a cache dir that does not exist yet; whether anything created it. */
function lab(args: string[], name: string) {
  const cache = join(work, name);
  const r = Bun.spawnSync([process.execPath, "lib/cli.ts", "lab", ...args], {
    cwd: root,
    env: { ...process.env, IOPERM_CACHE: cache },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stderr: r.stderr.toString(), touchedCache: existsSync(cache) };
}

const refusals: [string, string[], string][] = [
  ["--timeout above 2^31 ms (it used to time out at once)", ["--timeout", "3000000"], 'at most 2147483 (about 24.8 days), got "3000000"'],
  ["--timeout one second past the longest timer", ["--timeout", "2147484"], "--timeout wants seconds"],
  ["--timeout 0", ["--timeout", "0"], '--timeout wants seconds, more than 0 and at most 2147483 (about 24.8 days), got "0"'],
  ["--timeout -5", ["--timeout", "-5"], 'got "-5"'],
  ["--timeout 1e3 (not written as plain seconds)", ["--timeout", "1e3"], 'got "1e3"'],
  [
    "--memory 1.5 (it used to go to QEMU as is)",
    ["--memory", "1.5"],
    `--memory wants a whole number of MiB from 128 to ${hostMiB} (this host's RAM), got "1.5"`,
  ],
  ["--memory 64 (below what boots)", ["--memory", "64"], 'got "64"'],
  ["--memory above this host's RAM", ["--memory", String(hostMiB + 1)], `from 128 to ${hostMiB}`],
  ["--memory 0x800", ["--memory", "0x800"], 'got "0x800"'],
  [
    "--out followed by another option",
    ["--out", "--device", "isa-serial"],
    "ioperm lab: --out wants a value, but the next argument is the option --device; write --out=--device if that is the value",
  ],
  ["--device followed by --kvm", ["--device", "--kvm"], "--device wants a value, but the next argument is the option --kvm"],
  ["--qemu followed by one of ours", ["--qemu", "--out", "x"], "--qemu wants a value, but the next argument is the option --out"],
  ["--kernel followed by --", ["--kernel", "--", "true"], "--kernel wants a value, but the next argument is the option --"],
];

for (const [what, args, message] of refusals) {
  test(`${what}: exit 64 and why, before any install or boot`, () => {
    const r = lab([...args, "--", "true"], what.replace(/\W+/g, "-"));
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain("(see bun lib/cli.ts lab --help)"); // a checkout's command; bunx ioperm when installed
    expect(r.code).toBe(64);
    expect(r.touchedCache).toBe(false);
  });
}

test("the bounds themselves are accepted: 2147483.647 s is 2^31 - 1 ms, 128 MiB, this host's RAM", () => {
  expect(timeoutMs("2147483.647")).toBe(2 ** 31 - 1);
  expect(() => timeoutMs("2147483.648")).toThrow(UsageError);
  expect(timeoutMs("0.001")).toBe(1);
  expect(timeoutMs("600")).toBe(600_000);
  expect(memoryMiB("128")).toBe(128);
  expect(memoryMiB(String(hostMiB))).toBe(hostMiB);
  expect(() => memoryMiB("127")).toThrow(UsageError);
});

test("splitArgv: QEMU's own options still pass to --qemu, a negative number reaches its own check, --name=value passes anything", () => {
  expect(splitArgv(["--qemu", "-no-hpet", "--qemu", "--no-reboot", "--", "true"])).toEqual({
    ours: ["--qemu=-no-hpet", "--qemu=--no-reboot"],
    command: ["true"],
  });
  expect(splitArgv(["--timeout", "-5", "true"]).ours).toEqual(["--timeout=-5"]);
  expect(splitArgv(["--out=--device", "true"])).toEqual({ ours: ["--out=--device"], command: ["true"] });
  expect(() => splitArgv(["--qemu", "-h"])).toThrow(UsageError);
});

test("runLab refuses the same out-of-range numbers with a RangeError", async () => {
  const cases: [Parameters<typeof runLab>[0], string][] = [
    [{ command: ["true"], timeoutMs: 2 ** 31 }, `lab: timeoutMs must be 1 to ${2 ** 31 - 1}`],
    [{ command: ["true"], timeoutMs: 0 }, "got 0"],
    [{ command: ["true"], timeoutMs: Number.NaN }, "got NaN"],
    [
      { command: ["true"], memoryMiB: 1.5 },
      `lab: memoryMiB must be a whole number of MiB from 128 to ${hostMiB} (this host's RAM), got 1.5`,
    ],
    [{ command: ["true"], memoryMiB: hostMiB + 1 }, `got ${hostMiB + 1}`],
  ];
  for (const [opts, message] of cases) {
    const e = await runLab(opts).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(RangeError);
    expect((e as Error).message).toContain(message);
  }
});

test("QEMU trace events: each a -trace, one timestamped log in the run dir; a name that is not an event is a TypeError", () => {
  expect(qemuTraceArgs(["pckbd_kbd_read_data", "ipmi_*"], "/r")).toEqual({
    args: ["-trace", "pckbd_kbd_read_data", "-trace", "ipmi_*", "-D", "/r/qemu-trace.log", "-msg", "timestamp=on"],
    files: { qemuTrace: "/r/qemu-trace.log" },
  });
  expect(qemuTraceArgs([], "/r")).toEqual({ args: [], files: {} });
  // A QEMU option smuggled in as an event name is refused, not passed on.
  expect(() => qemuTraceArgs(["pckbd,file=/etc/x"], "/r")).toThrow(TypeError);
  expect(() => qemuTraceArgs(["-D"], "/r")).toThrow(/not a QEMU trace event name/);
});
