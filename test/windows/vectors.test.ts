// The shared table of op-validity cases (test/vectors/ops.json) against the
// driver, ioperm.sys under Wine, with the table's ranges as the allowlist.
// Each case goes in as a BATCH of its step (a head and its parameter slot for a
// wait or pulse, repeated when the case says); a valid list is followed by a
// refused sentinel (port 0x80, outside the allowlist), so the batch is refused
// at the sentinel and nothing runs, not even a delay (Wine on the host has no iopl: an executed in/out
// would kill winedevice). A VERSION round trip after every case is the witness
// that the driver kept serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import table from "../vectors/ops.json";
import { batch, ctl, h, ioctl, op, pair, reply, setAllowlist, setUp, tearDown } from "./wine.ts";
import { hexLower as hex } from "../../lib/format.ts";

const verdicts: Record<string, number> = {
  not_granted: h.IOPERM_RESULT_NOT_ALLOWED!,
  bad_width: h.IOPERM_RESULT_BAD_WIDTH!,
  bad_op: h.IOPERM_RESULT_BAD_OP!,
  range: h.IOPERM_RESULT_RANGE!,
  too_long: h.IOPERM_RESULT_TOO_LONG!,
};
const sentinel = op(0x80, 1);

describe("ops.json in ioperm.sys under Wine", () => {
  beforeAll(() => {
    setUp();
    expect(setAllowlist(table.granted.map(([from = 0, count = 1]) => `${hex(from)}-${hex(from + count - 1)}`))).toBe(true);
  }, 300_000);
  afterAll(() => {
    setAllowlist([]);
    tearDown();
  }, 120_000);

  /** The case's slots: its step (a head and its parameter, for a wait or pulse), `repeat` times. */
  const slotsOf = (c: (typeof table.cases)[number] & { param?: number[]; repeat?: number }) =>
    Array.from({ length: c.repeat ?? 1 }, () => [
      op(c.port, c.width, c.flags, c.value),
      ...(c.param ? [pair(c.param[0] ?? 0, c.param[1] ?? 0)] : []),
    ]).flat();

  test("every case gets the table's verdict, refused before anything runs", () => {
    const lines = table.cases.flatMap((c) => {
      const list = c.expect === "ok" ? [...slotsOf(c), sentinel] : slotsOf(c);
      return [ioctl("BATCH", batch(list), 16 + 8 * list.length), ioctl("VERSION", null, 24)];
    });
    const results = ctl(["open rw", ...lines]);
    expect(results.length).toBe(1 + lines.length);
    const got = table.cases.map((c, i) => {
      const r = results[1 + 2 * i]!;
      const alive = results[2 + 2 * i]!;
      const v = r.ok ? reply(r) : null;
      return { name: c.name, result: v?.getInt32(4, true), index: v?.getUint32(8, true), alive: alive.ok };
    });
    // A refused case names its last step (the call cap is passed by the last of a repeat); an
    // accepted one is refused at the sentinel after it.
    const want = table.cases.map((c) => {
      const n = slotsOf(c).length;
      return c.expect === "ok"
        ? { name: c.name, result: h.IOPERM_RESULT_NOT_ALLOWED, index: n, alive: true }
        : { name: c.name, result: verdicts[c.expect], index: n - (c.param ? 2 : 1), alive: true };
    });
    expect(got).toEqual(want);
  });
});
