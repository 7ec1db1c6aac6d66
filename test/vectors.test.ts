// The shared table of op-validity cases (test/vectors/ops.json) against the
// TypeScript layer's own check, lib/batch.ts encodeOps. zig/src/vectors_test.zig
// holds core.zig's checkOp to the same table, and the Wine driver test the driver.
// TypeScript cannot express unknown flag bits, and grants are native state, so
// here: bad_width and range are a RangeError before any native call; ok and
// not_granted encode (the native check then decides).
import { describe, expect, test } from "bun:test";
import { encodeOps, type BatchOp } from "../lib/batch.ts";
import type { Width } from "../lib/check.ts";
import table from "./vectors/ops.json";

describe("ops.json in lib/batch.ts", () => {
  test("the table holds every verdict", () => {
    expect(new Set(table.cases.map((c) => c.expect))).toEqual(new Set(["ok", "not_granted", "bad_width", "bad_op", "range"]));
  });
  for (const c of table.cases.filter((c) => c.flags <= 1)) {
    test(`${c.name}: ${c.expect}`, () => {
      const op: BatchOp = { port: c.port, width: (c.width * 8) as Width, write: c.flags === 1, value: c.value };
      if (c.expect === "bad_width" || c.expect === "range") expect(() => encodeOps([op])).toThrow(RangeError);
      else expect(encodeOps([op]).length).toBe(8);
    });
  }
});
