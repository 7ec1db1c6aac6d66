// The shared table of op-validity cases (test/vectors/ops.json) against the
// driver, ioperm.sys under Wine, with the table's ranges as the allowlist.
// Each case goes in as a one-op BATCH; a valid op is followed by a refused
// sentinel (port 0x80, outside the allowlist), so the batch is refused at
// index 1 and nothing runs (Wine on the host has no iopl: an executed in/out
// would kill winedevice). A VERSION round trip after every case is the witness
// that the driver kept serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import table from "../vectors/ops.json";
import { batch, ctl, h, ioctl, op, reply, setAllowlist, setUp, tearDown } from "./wine.ts";

const verdicts: Record<string, number> = {
  not_granted: h.IOPERM_RESULT_NOT_ALLOWED!,
  bad_width: h.IOPERM_RESULT_BAD_WIDTH!,
  bad_op: h.IOPERM_RESULT_BAD_OP!,
  range: h.IOPERM_RESULT_RANGE!,
};
const sentinel = op(0x80, 1);
const hex = (n: number) => `0x${n.toString(16)}`;

describe("ops.json in ioperm.sys under Wine", () => {
  beforeAll(() => {
    setUp();
    expect(setAllowlist(table.granted.map(([from = 0, count = 1]) => `${hex(from)}-${hex(from + count - 1)}`))).toBe(true);
  }, 300_000);
  afterAll(() => {
    setAllowlist([]);
    tearDown();
  });

  test("every case gets the table's verdict, refused before anything runs", () => {
    const lines = table.cases.flatMap((c) => {
      const o = op(c.port, c.width, c.flags, c.value);
      const list = c.expect === "ok" ? [o, sentinel] : [o];
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
    const want = table.cases.map((c) =>
      c.expect === "ok"
        ? { name: c.name, result: h.IOPERM_RESULT_NOT_ALLOWED, index: 1, alive: true }
        : { name: c.name, result: verdicts[c.expect], index: 0, alive: true },
    );
    expect(got).toEqual(want);
  });
});
