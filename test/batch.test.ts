// Host unit tests: batch ops encode to the native 8-byte layout and are checked first.
import { expect, test } from "bun:test";
import { encodeOps, OP_SIZE, opValues, ops } from "../lib/batch.ts";

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
});
