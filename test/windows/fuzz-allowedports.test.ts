// The reference AllowedPorts parser (allowedports.ts) on its own: pure logic,
// no Wine. fuzz.test.ts then holds the driver to it.
import { describe, expect, test } from "bun:test";
import { effective, generator, MAX_DATA_BYTES, multiSz, parseAllowedPorts, REG, sizeEdges } from "./allowedports.ts";

const parse = (entries: string[]) => parseAllowedPorts(REG.MULTI_SZ, multiSz(entries));
const utf16 = (s: string) => new Uint8Array(Buffer.from(s, "utf16le"));

describe("reference AllowedPorts parser", () => {
  test("accepts hex (0x, 0X) and decimal ports and inclusive ranges, with spaces around an entry", () => {
    expect(parse(["0x70-0x71", " 0x3F8 ", "1016-1017", "0X2f8", "0x0000ffff", "7-7"])).toEqual({
      ok: true,
      ranges: [
        [0x70, 0x71],
        [0x3f8, 0x3f8],
        [1016, 1017],
        [0x2f8, 0x2f8],
        [0xffff, 0xffff],
        [7, 7],
      ],
    });
    expect(parse(["0010"])).toEqual({ ok: true, ranges: [[10, 10]] }); // leading zeros: still decimal
  });

  test("refuses what breaks the grammar", () => {
    for (const bad of [
      ["0x10000"],
      ["65536"],
      ["0x80-0x70"],
      ["zz"],
      ["0x80", "0x3f8-"],
      ["0x"],
      ["-5"],
      ["+5"],
      ["0x10 - 0x20"],
      ["0x10--0x20"],
      ["1-2-3"],
      ["\t5"],
      [" "],
      ["\uff11"],
      ["0b1"],
      ["1e3"],
    ])
      expect({ bad, ok: parse(bad).ok }).toEqual({ bad, ok: false });
  });

  test("REG_MULTI_SZ framing: an empty string ends the list; the final NULs are optional; odd sizes, other types and over 64 KiB are refused", () => {
    expect(parseAllowedPorts(REG.MULTI_SZ, utf16("0x80\0\0zz\0\0"))).toEqual({ ok: true, ranges: [[0x80, 0x80]] });
    expect(parseAllowedPorts(REG.MULTI_SZ, utf16("0x80"))).toEqual({ ok: true, ranges: [[0x80, 0x80]] });
    expect(parseAllowedPorts(REG.MULTI_SZ, new Uint8Array(0))).toEqual({ ok: true, ranges: [] });
    expect(parseAllowedPorts(REG.MULTI_SZ, new Uint8Array([...utf16("0x80\0\0"), 0x30])).ok).toBe(false);
    for (const type of [REG.SZ, REG.EXPAND_SZ, REG.BINARY, REG.DWORD]) expect(parseAllowedPorts(type, utf16("0x80\0")).ok).toBe(false);
    const many = Array.from({ length: Math.ceil(MAX_DATA_BYTES / 10) }, () => "0x80");
    expect(parse(many).ok).toBe(false);
    expect(parse(many.slice(0, 1000)).ok).toBe(true);
  });

  test("sizeEdges(): values of exactly the limit and 2 bytes either side, one entry each", () => {
    expect(sizeEdges().map((v) => [v.data.length - MAX_DATA_BYTES, parseAllowedPorts(v.type, v.data).ok])).toEqual([
      [-2, true],
      [0, true],
      [2, false],
    ]);
    expect(parseAllowedPorts(REG.MULTI_SZ, sizeEdges()[1]!.data)).toEqual({ ok: true, ranges: [[0x80, 0x80]] });
  });

  test("effective(): the ranges minus a denylist, as iopermfuzz prints them", () => {
    const deny: [number, number][] = [
      [0, 0x1f],
      [0x60, 0x60],
      [0x64, 0x64],
    ];
    expect(effective([[0, 0xffff]], deny)).toBe("20-5f,61-63,65-ffff");
    expect(effective([[0x5c, 0x6f]], deny)).toBe("5c-5f,61-63,65-6f");
    expect(
      effective(
        [
          [0x10, 0x12],
          [0x11, 0x30],
          [0x80, 0x80],
        ],
        [],
      ),
    ).toBe("10-30,80-80");
    expect(effective([], deny)).toBe("");
    expect(effective([[0x60, 0x60]], deny)).toBe("");
  });

  test("the generator is seeded and produces values of both outcomes", () => {
    const a = generator(42);
    const b = generator(42);
    const values = Array.from({ length: 300 }, a);
    expect(Array.from({ length: 300 }, b)).toEqual(values);
    const outcomes = new Set(values.filter((v) => v.type >= 0).map((v) => parseAllowedPorts(v.type, v.data).ok));
    expect(outcomes).toEqual(new Set([true, false]));
    expect(new Set(values.map((v) => v.kind)).size).toBeGreaterThan(12);
  });
});
