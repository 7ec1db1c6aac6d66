// The x86 IOPM grant's handle lifetime (windows-driver/sys/iopm.c), run on the
// host: no 32-bit Windows exists here and Wine runs the x64 driver, which has no
// IOPM. iopm.c is compiled unchanged for 32-bit Linux against a stand-in
// <ntifs.h> and a fake kernel (test/windows/iopm/), which keeps map 1 as the CPU
// would see it, which map each process points at and the references the driver
// holds. What only real x86 Windows can show (Ke386* themselves, an in/out that
// faults after a revoke) is not covered.
import { expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { packageRoot as root } from "../../lib/paths.ts";

interface Step {
  step: string;
  status: string;
  open: string;
  maps: number[];
  refs: number[];
  linked: number;
  mutex_errors: number;
}

const OK = "0x00000000";
const UNSUCCESSFUL = "0xc0000001";
const ACCESS_DENIED = "0xc0000022";
const FILE_CLOSED = "0xc0000128";
const INVALID_DEVICE_STATE = "0xc0000184";

function run(): Step[] {
  const dir = join(root, ".cache/windows/tmp");
  mkdirSync(dir, { recursive: true });
  const exe = join(dir, `iopm-test-${process.pid}`);
  const cc = Bun.spawnSync(
    [
      join(root, ".cache/bin/zig"),
      "cc",
      "-target",
      "x86-linux-musl",
      "-std=c11",
      "-Wall",
      "-Wextra",
      "-Werror",
      `-I${join(root, "test/windows/iopm")}`,
      `-I${join(root, "windows-driver/include")}`,
      `-I${join(root, "windows-driver/sys")}`,
      join(root, "windows-driver/sys/iopm.c"),
      join(root, "test/windows/iopm/kernel.c"),
      "-o",
      exe,
    ],
    { cwd: root, stdout: "pipe", stderr: "pipe" },
  );
  if (cc.exitCode !== 0) throw new Error(`zig cc: ${cc.stderr}`);
  const r = Bun.spawnSync([exe], { stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  return r.stdout
    .toString()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Step);
}

test("grants, revoke, cleanup, close and injected failures leave map 1, the processes and their references as they must", () => {
  const steps = run();
  const row = (s: Step) => [s.step, s.status, s.open, s.maps, s.refs, s.linked];
  expect(steps.map(row)).toEqual([
    ["start", OK, "", [0, 0], [0, 0], 0],
    ["A grants 0x378-0x37f", OK, "0x378-0x37f", [1, 0], [1, 0], 1],
    // Map 1 is machine-wide: process 2 is pointed at the union, process 1's ports too.
    ["B (process 2) grants 0x3f8-0x3ff", OK, "0x378-0x37f 0x3f8-0x3ff", [1, 1], [1, 1], 2],
    ["process 2 grants on A (inherited handle)", ACCESS_DENIED, "0x378-0x37f 0x3f8-0x3ff", [1, 1], [1, 1], 2],
    ["A revokes", OK, "0x3f8-0x3ff", [0, 1], [0, 1], 1],
    ["A grants 0x378-0x37f again", OK, "0x378-0x37f 0x3f8-0x3ff", [1, 1], [1, 1], 2],
    // Cleanup closes the handle to grants: one still in flight is refused and opens nothing.
    ["A cleanup", OK, "0x3f8-0x3ff", [0, 1], [0, 1], 1],
    ["A grants after cleanup", FILE_CLOSED, "0x3f8-0x3ff", [0, 1], [0, 1], 1],
    ["A close", OK, "0x3f8-0x3ff", [0, 1], [0, 1], 1],
    ["A grants after close", INVALID_DEVICE_STATE, "0x3f8-0x3ff", [0, 1], [0, 1], 1],
    // Close revokes whatever is still linked before freeing the handle.
    ["C grants 0x278-0x27f", OK, "0x278-0x27f 0x3f8-0x3ff", [1, 1], [1, 1], 2],
    ["C close with the grant still linked", OK, "0x3f8-0x3ff", [0, 1], [0, 1], 1],
    // A grant whose map cannot be read back is revoked whole, and the process detached.
    ["D grants, the read-back fails", UNSUCCESSFUL, "0x3f8-0x3ff", [0, 1], [0, 1], 1],
    ["D grants 0x2e8-0x2ef", OK, "0x2e8-0x2ef 0x3f8-0x3ff", [1, 1], [1, 1], 2],
    // Revoke cannot rebuild the map: every grant goes, every process leaves it, and it is filled closed.
    ["D revokes, map 1 cannot be set once", OK, "", [0, 0], [0, 0], 0],
    ["B grants 0x3e8-0x3ef", OK, "0x3e8-0x3ef", [0, 1], [0, 1], 1],
    ["D grants 0x2e8-0x2ef again", OK, "0x2e8-0x2ef 0x3e8-0x3ef", [1, 1], [1, 1], 2],
    // Not even the closed fill can be set: map 1 keeps stale bits, but no process points at it,
    // and the next grant rebuilds it before pointing anyone there.
    ["D revokes, map 1 cannot be set at all", OK, "0x2e8-0x2ef 0x3e8-0x3ef", [0, 0], [0, 0], 0],
    ["B and D closed", OK, "0x2e8-0x2ef 0x3e8-0x3ef", [0, 0], [0, 0], 0],
  ]);
  // Every step took and released the lock in pairs, never re-entered it.
  expect(steps.map((s) => s.mutex_errors)).toEqual(steps.map(() => 0));
}, 120_000);
