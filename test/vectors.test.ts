// The shared table of op-validity cases (test/vectors/ops.json) against the
// TypeScript layer's own check, lib/batch.ts encodeOps. zig/src/vectors_test.zig
// holds core.zig's checkList to the same table, and the Wine driver test the driver.
// TypeScript cannot express unknown kinds or a missing parameter slot, and grants
// are native state, so here: bad_width, range and a step over its cap are a
// RangeError before any native call; ok, not_granted and the call cap encode
// (the native check then decides, test/batch.test.ts shows it refuse).
import { describe, expect, test } from "bun:test";
import { encodeOps, type BatchOp } from "../lib/batch.ts";
import type { Width } from "../lib/check.ts";
import table from "./vectors/ops.json";

type Case = (typeof table.cases)[number] & { param?: number[]; repeat?: number };

/** The case as the BatchOp lib/ would build, or undefined when TypeScript cannot express it. */
function asOp(c: Case): BatchOp | undefined {
  const width = (c.width * 8) as Width;
  const [a = 0, b = 0] = c.param ?? [];
  if (c.flags <= 1) return { port: c.port, width, write: c.flags === 1, value: c.value };
  if (c.flags === 3 && c.port === 0 && c.width === 0) return { step: "delay", us: c.value };
  if (c.flags === 2 && c.param) return { step: "wait", port: c.port, width, mask: a, expect: b, timeoutUs: c.value };
  if (c.flags === 4 && c.param) return { step: "pulse", port: c.port, width, value: c.value, rest: a, widthUs: b };
  return undefined;
}

describe("ops.json in lib/batch.ts", () => {
  test("the table holds every verdict", () => {
    expect(new Set(table.cases.map((c) => c.expect))).toEqual(new Set(["ok", "not_granted", "bad_width", "bad_op", "range", "too_long"]));
  });
  for (const c of table.cases as Case[]) {
    const op = asOp(c);
    if (!op) continue;
    const list: BatchOp[] = Array.from({ length: c.repeat ?? 1 }, () => op);
    const slots = list.length * (c.param ? 2 : 1);
    test(`${c.name}: ${c.expect}`, () => {
      const callCap = c.expect === "too_long" && (c.repeat ?? 1) > 1;
      if (c.expect === "bad_width" || c.expect === "range" || (c.expect === "too_long" && !callCap))
        expect(() => encodeOps(list)).toThrow(RangeError);
      else {
        // Every slot carries the case's own fields, in the native layout (port u16, width u8 in bytes,
        // kind u8, value u32; a timed step's parameter slot: two u32), not merely the right length.
        const buf = encodeOps(list);
        expect(buf.length).toBe(8 * slots);
        const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        const per = c.param ? 2 : 1;
        const got = Array.from({ length: list.length }, (_, i) => {
          const at = i * per * 8;
          const head = {
            port: view.getUint16(at, true),
            width: view.getUint8(at + 2),
            flags: view.getUint8(at + 3),
            value: view.getUint32(at + 4, true),
          };
          return c.param ? { ...head, param: [view.getUint32(at + 8, true), view.getUint32(at + 12, true)] } : head;
        });
        // lib/ writes a read's value slot as 0: the native side overwrites it with what it read.
        const want = {
          port: c.port,
          width: c.width,
          flags: c.flags,
          value: c.flags === 0 ? 0 : c.value,
          ...(c.param ? { param: c.param } : {}),
        };
        expect(got).toEqual(list.map(() => want));
      }
    });
  }
});
