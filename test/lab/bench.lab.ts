// A short run of the lab benchmark (bench/guest.ts, what `bun run bench --vm` boots)
// with a tiny sample time: every lab path and the floor must appear in its JSON,
// and its writes must have reached the device (witness: Debian's inb reads back
// what the bench wrote to COM2's scratch register). No timing is asserted: a
// benchmark is not a test. The pulse part (bench/pulse-guest.ts) is checked
// against QEMU's trace of every parallel-port write, the witness the bench uses.
// @lab-qemu-trace parallel_ioport_write
import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { LAB_FILE } from "../../bench/guest.ts";
import { HANDSHAKE_STEPS } from "../../bench/lab.ts";
import { PATHS, type RunResult } from "../../bench/model.ts";
import { PULSE_FILE } from "../../bench/pulse-guest.ts";
import { type PulseSeries, parseParallelWrites, pulseResult } from "../../bench/pulse.ts";

test("bench --vm (quick): every lab path and the native floor are measured, each against the floor", () => {
  const file = join(process.env.IOPERM_LAB_RUN ?? "", LAB_FILE);
  rmSync(file, { force: true });
  const debian = (...args: string[]) => Bun.spawnSync(args, { stdout: "pipe" }).stdout.toString().trim();
  debian("outb", "0x2ff", "0x00");
  const r = Bun.spawnSync([process.execPath, "bench/guest.ts", "--quick", "--time", "2"], { stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode, r.stderr.toString().slice(-2000)).toBe(0);
  const run = JSON.parse(readFileSync(file, "utf8")) as RunResult;
  expect(run.kind).toBe("lab");
  expect(run.skipped).toEqual([]);
  const labPaths = Object.keys(PATHS).filter(
    (p) => !/^(ffi-nop|ffi-refused|ts-api|ts-port8|ts-traced|ts-refused|ts-batch64-nop|driver-.*)$/.test(p),
  );
  expect([...new Set(run.cases.map((c) => c.path))].sort()).toEqual(labPaths.sort());
  for (const c of run.cases) {
    expect(c.p50_ns).toBeGreaterThan(0);
    expect(c.ratio_to_floor).not.toBeNull();
  }
  const floors = run.cases.filter((c) => c.path === "native-loop4096");
  expect(floors.length).toBeGreaterThan(0);
  for (const f of floors) expect(f.ratio_to_floor).toBe(1);
  // The write cases ran on the device: COM2's scratch register holds the bench's value (0x5A), not the 0 written before.
  expect(Number(debian("inb", "0x2ff"))).toBe(0x5a);
  // Each case timed what it says: samples of whole calls, accesses per call as the path defines.
  for (const c of run.cases) expect(c.samples * c.calls_per_sample).toBeGreaterThan(0);
  // The handshake's native calls were counted: one for the batch, at least one per step for the separate calls.
  const calls = (path: string) => run.cases.find((c) => c.path === path)?.native_calls_per_call;
  expect(calls("handshake-batch")).toBe(1);
  expect(calls("handshake-ts")).toBeGreaterThanOrEqual(HANDSHAKE_STEPS);
}, 300_000);

test("bench pulses: every pulse the guest sent is in QEMU's trace as its value then the rest value, none of ops.pulse's shorter than asked (witness: QEMU's trace with the host's clock)", () => {
  const dir = process.env.IOPERM_LAB_RUN ?? "";
  rmSync(join(dir, PULSE_FILE), { force: true });
  const r = Bun.spawnSync([process.execPath, "bench/pulse-guest.ts", "--count", "5"], { stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode, r.stderr.toString().slice(-2000)).toBe(0);
  const series = JSON.parse(readFileSync(join(dir, PULSE_FILE), "utf8")) as PulseSeries[];
  expect(series.map((s) => s.name).sort()).toEqual(["pulse-native 1000us", "pulse-native 100us", "pulse-ts 1000us", "pulse-ts 100us"]);
  const writes = parseParallelWrites(readFileSync(join(dir, "qemu-trace.log"), "utf8"));
  for (const s of series) {
    const p = pulseResult(s, writes);
    expect({ name: p.name, found: p.found }).toEqual({ name: s.name, found: 5 });
    if (s.path === "pulse-native") expect(p.err_min_us).toBeGreaterThanOrEqual(0);
  }
}, 120_000);
