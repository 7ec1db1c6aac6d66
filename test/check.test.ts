// Host unit tests: argument checking runs before any native call.
import { describe, expect, test } from "bun:test";
import { arrayWidth, checkPort, checkRange, checkValue, checkWidth } from "../lib/check.ts";

describe("checkPort", () => {
  test("accepts the whole port space", () => {
    for (const p of [0, 1, 0x80, 0x378, 0xcf8, 0xffff]) expect(() => checkPort(p)).not.toThrow();
    expect(() => checkPort(0xfffc, 4)).not.toThrow();
  });
  test("non-integers are TypeErrors", () => {
    for (const p of [1.5, Number.NaN, "0x378", null, undefined, 10n]) {
      expect(() => checkPort(p as number)).toThrow(TypeError);
    }
  });
  test("outside 0..0xFFFF or passing it with the width is a RangeError", () => {
    for (const p of [-1, 0x10000, 2 ** 32]) expect(() => checkPort(p)).toThrow(RangeError);
    expect(() => checkPort(0xffff, 2)).toThrow(/passes 0xFFFF/);
    expect(() => checkPort(0xfffd, 4)).toThrow(RangeError);
  });
});

describe("checkRange", () => {
  test("count from 1 to the end of the space", () => {
    expect(() => checkRange(0, 0x10000)).not.toThrow();
    expect(() => checkRange(0x378, 3)).not.toThrow();
    expect(() => checkRange(0xffff, 1)).not.toThrow();
  });
  test("empty, overflowing or fractional ranges are refused", () => {
    expect(() => checkRange(0x378, 0)).toThrow(RangeError);
    expect(() => checkRange(0xffff, 2)).toThrow(RangeError);
    expect(() => checkRange(1, 0x10000)).toThrow(RangeError);
    expect(() => checkRange(0x378, 1.5)).toThrow(TypeError);
  });
});

describe("checkValue", () => {
  test("values fit their width", () => {
    expect(() => checkValue(0xff, 8)).not.toThrow();
    expect(() => checkValue(0xffff, 16)).not.toThrow();
    expect(() => checkValue(0xffffffff, 32)).not.toThrow();
    expect(() => checkValue(0x100, 8)).toThrow(/does not fit 8 bits/);
    expect(() => checkValue(0x10000, 16)).toThrow(RangeError);
    expect(() => checkValue(2 ** 32, 32)).toThrow(RangeError);
    expect(() => checkValue(-1, 8)).toThrow(RangeError);
    expect(() => checkValue(1.5, 8)).toThrow(TypeError);
  });
});

test("range errors speak hex, name the port past the end, and point at the wider op where the value fits", () => {
  const says = (f: () => void) => {
    try {
      f();
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  expect(says(() => checkValue(4660, 8))).toBe("value 0x1234 does not fit 8 bits (0x00-0xFF); use outw for 16 bits");
  expect(says(() => checkValue(0x12345, 8))).toBe("value 0x12345 does not fit 8 bits (0x00-0xFF); use outl for 32 bits");
  expect(says(() => checkValue(0x12345, 16))).toBe("value 0x12345 does not fit 16 bits (0x0000-0xFFFF); use outl for 32 bits");
  expect(says(() => checkValue(2 ** 32, 32))).toBe("value 0x100000000 does not fit 32 bits (0x00000000-0xFFFFFFFF)");
  expect(says(() => checkValue(-1, 8))).toContain("value -1 does not fit 8 bits (0x00-0xFF); values are unsigned");
  expect(says(() => checkPort(0x10000))).toBe("port 0x10000 is outside 0x0000-0xFFFF");
  expect(says(() => checkPort(0xfffe, 4))).toBe("port 0xFFFE with width 32 passes 0xFFFF: its last byte would be port 0x10001");
  expect(says(() => checkRange(0xfff0, 0x20))).toBe(
    "count 32 from 0xFFF0 passes 0xFFFF: the last port would be 0x1000F; at most 16 ports fit",
  );
});

test("widths and typed arrays", () => {
  expect(() => checkWidth(8)).not.toThrow();
  expect(() => checkWidth(24)).toThrow(RangeError);
  expect(arrayWidth(new Uint8Array(1), "x")).toBe(8);
  expect(arrayWidth(new Uint16Array(1), "x")).toBe(16);
  expect(arrayWidth(new Uint32Array(1), "x")).toBe(32);
  for (const b of [new Int8Array(1), new Float32Array(1), [1, 2], Buffer.alloc(0).buffer]) {
    expect(() => arrayWidth(b, "readInto")).toThrow(TypeError);
  }
});
