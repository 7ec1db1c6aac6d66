// Host unit tests: batch ops encode to the native 8-byte layout and are checked
// first; timed steps (wait, delay, pulse) and their caps, refused before any port.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeOps, MAX_CALL_US, MAX_STEP_US, OP_KIND, OP_SIZE, opValues, ops, stepAt, stepValues } from "../lib/batch.ts";
import { nativeStepLimits } from "../lib/ffi.ts";
import { IopermError, open } from "../lib/index.ts";
import { packageRoot as root } from "../lib/paths.ts";

test("layout: port u16, width u8 (bytes), flags u8 (1 = write), value u32, little-endian", () => {
  const buf = encodeOps([ops.outw(0x510, 0x1234), ops.inb(0x511), ops.outl(0xcf8, 0x80000000)]);
  expect(buf.length).toBe(3 * OP_SIZE);
  expect([...buf.subarray(0, 8)]).toEqual([0x10, 0x05, 2, 1, 0x34, 0x12, 0, 0]);
  expect([...buf.subarray(8, 16)]).toEqual([0x11, 0x05, 1, 0, 0, 0, 0, 0]);
  expect([...buf.subarray(16, 24)]).toEqual([0xf8, 0x0c, 4, 1, 0, 0, 0, 0x80]);
  expect([...opValues(buf)]).toEqual([0x1234, 0, 0x80000000]);
});

test("a bad op is refused with its index before anything is encoded", () => {
  expect(() => encodeOps([ops.inb(0x80), ops.outb(0x80, 0x100)])).toThrow(/batch op 1: value 0x100 does not fit 8 bits/);
  expect(() => encodeOps([ops.inl(0xfffd)])).toThrow(/batch op 0/);
  expect(() => encodeOps([{ port: 0x80, width: 12 as 8, write: false, value: 0 }])).toThrow(RangeError);
  expect(() => encodeOps("x" as never)).toThrow(TypeError);
  expect(() => encodeOps([null as never])).toThrow(/batch op 0: expected a BatchOp/);
  expect(() => encodeOps([{ step: "sleep" } as never])).toThrow(TypeError);
});

test("timed steps: a wait and a pulse are a head and a parameter slot, a delay one slot", () => {
  const buf = encodeOps([
    ops.wait(0x64, 0x02, 0x00, 10_000),
    ops.delay(50),
    ops.pulse(0x378, 0xff, 1000, 0x01),
    ops.inb(0x60),
    ops.wait(0xcfc, 0xff000000, 0x01000000, 7, 32),
  ]);
  expect(buf.length).toBe(8 * OP_SIZE);
  const slots = (i: number) => [...buf.subarray(i * 8, i * 8 + 8)];
  // head: port 0x64, width 1, kind wait, timeout 10000 (0x2710); parameter: mask 2, expect 0.
  expect(slots(0)).toEqual([0x64, 0, 1, OP_KIND.wait, 0x10, 0x27, 0, 0]);
  expect(slots(1)).toEqual([2, 0, 0, 0, 0, 0, 0, 0]);
  expect(slots(2)).toEqual([0, 0, 0, OP_KIND.delay, 50, 0, 0, 0]);
  // pulse head: the value; parameter: rest 1, hold 1000 (0x3E8).
  expect(slots(3)).toEqual([0x78, 0x03, 1, OP_KIND.pulse, 0xff, 0, 0, 0]);
  expect(slots(4)).toEqual([1, 0, 0, 0, 0xe8, 0x03, 0, 0]);
  expect(slots(5)).toEqual([0x60, 0, 1, OP_KIND.read, 0, 0, 0, 0]);
  expect(slots(7)).toEqual([0, 0, 0, 0xff, 0, 0, 0, 0x01]);
  // Native slot indices map back to the caller's steps, and values to one per step.
  expect([0, 2, 3, 5, 6, 8].map((s) => stepAt(buf, s))).toEqual([0, 1, 2, 3, 4, 5]);
  const perSlot = new Uint32Array([9, 9, 9, 9, 9, 0x42, 9, 9]);
  expect([...stepValues(buf, perSlot)]).toEqual([0, 0, 0, 0x42, 0]);
});

test("builders check their arguments where they are called", () => {
  expect(() => ops.wait(0x64, 0x02, 0x04, 100)).toThrow(/could never match/);
  expect(() => ops.wait(0x64, 0x100, 0, 100)).toThrow(RangeError);
  expect(() => ops.wait(0xffff, 1, 1, 100, 16)).toThrow(RangeError);
  expect(() => ops.wait(0x64, 1, 1, MAX_STEP_US + 1)).toThrow(/IOPERM_MAX_STEP_US/);
  expect(() => ops.wait(0x64, 1, 1, -1)).toThrow(RangeError);
  expect(() => ops.wait(0x64, 1, 1, 1.5)).toThrow(TypeError);
  expect(() => ops.wait(0x64, 1, 1, 10, 24 as 8)).toThrow(/width must be 8, 16 or 32/);
  expect(() => ops.delay(MAX_STEP_US + 1)).toThrow(RangeError);
  expect(() => ops.delay("5" as never)).toThrow(TypeError);
  expect(() => ops.pulse(0x378, 0x100, 10)).toThrow(RangeError);
  expect(() => ops.pulse(0x378, 1, 10, 0x100)).toThrow(RangeError);
  expect(() => ops.pulse(0x378, 1, MAX_STEP_US + 1)).toThrow(RangeError);
  expect(ops.delay(MAX_STEP_US)).toEqual({ step: "delay", us: MAX_STEP_US });
  expect(ops.pulse(0x378, 1, 10)).toEqual({ step: "pulse", port: 0x378, width: 8, value: 1, rest: 0, widthUs: 10 });
  // A literal step past a builder meets the same check in encodeOps.
  expect(() => encodeOps([ops.inb(0x80), { step: "delay", us: MAX_STEP_US + 1 }])).toThrow(/batch op 1: delay us/);
});

test("the caps and kinds are the header's (the one source), and the library's", () => {
  const header = readFileSync(join(root, "windows-driver/include/ioperm_ioctl.h"), "utf8");
  const define = (name: string) => Number(new RegExp(`#define ${name}\\s+(0x[0-9a-fA-F]+|\\d+)u?`).exec(header)?.[1]);
  expect({ step: MAX_STEP_US, call: MAX_CALL_US }).toEqual({ step: define("IOPERM_MAX_STEP_US"), call: define("IOPERM_MAX_CALL_US") });
  expect(nativeStepLimits()).toEqual({ step: MAX_STEP_US, call: MAX_CALL_US });
  for (const [kind, n] of Object.entries(OP_KIND))
    expect({ kind, n: n as number }).toEqual({ kind, n: define(`IOPERM_OP_${kind.toUpperCase()}`) });
});

/** The IopermError a call throws. */
function thrown(f: () => unknown): IopermError {
  try {
    f();
  } catch (e) {
    if (e instanceof IopermError) return e;
    throw e;
  }
  throw new Error("did not throw");
}

// This host has no port access: each refusal below comes from the native check,
// before any instruction (an executed in/out would kill this process).
test("over the call cap: TOO_LONG from the library, naming the step that passes it, before anything runs", () => {
  using io = open();
  // Eleven delays of 100 ms: each under the step cap, the eleventh past the call cap.
  const list = Array.from({ length: MAX_CALL_US / MAX_STEP_US + 1 }, () => ops.delay(MAX_STEP_US));
  const e = thrown(() => io.batch(list));
  expect({ code: e.code, index: e.index, port: e.port }).toEqual({ code: "TOO_LONG", index: list.length - 1, port: undefined });
  expect(e.message).toContain("split the work");
  // prepare() refuses it too, when it copies the list.
  expect(thrown(() => io.prepare(list)).code).toBe("TOO_LONG");
});

test("a wait or pulse on a port not granted is refused by index, after a delay that never runs", () => {
  using io = open();
  const e = thrown(() => io.batch([ops.delay(MAX_STEP_US), ops.pulse(0x378, 1, 10), ops.wait(0x379, 0x80, 0x80, 10)]));
  expect({ code: e.code, index: e.index, port: e.port, op: e.op }).toEqual({ code: "NOT_GRANTED", index: 1, port: 0x378, op: "batch[1]" });
  const w = thrown(() => io.prepare([ops.delay(1), ops.wait(0x64, 1, 1, 10)]).run());
  expect({ code: w.code, index: w.index, port: w.port }).toEqual({ code: "NOT_GRANTED", index: 1, port: 0x64 });
});
