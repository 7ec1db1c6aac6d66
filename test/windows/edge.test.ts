// Edges of ioperm.sys's request checks under Wine (issue #9): lengths one byte
// off, the largest batch and one op more, accesses that straddle an allowlist
// edge, and what handles opened read-only or write-only may do.
//
// Witness, as in driver.test.ts: Wine on the host holds no iopl, so an in/out
// the driver ran would kill winedevice and every later request would fail.
// Each case below is followed by a VERSION round trip on the same handle, and
// its verdict shows it was refused before anything ran. What only a real
// machine shows (8192 ops actually run) is for the lab VM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  batch,
  type CtlResult,
  ctl,
  defaultAllowlist,
  denylist,
  h,
  ioctl,
  op,
  pair,
  persistentSession,
  reply,
  root,
  setAllowlist,
  setUp,
  tearDown,
} from "./wine.ts";

const ERROR_ACCESS_DENIED = 5;
const ERROR_BAD_LENGTH = 24;
const ERROR_NOT_SUPPORTED = 50;
const ERROR_INVALID_PARAMETER = 87;
const W = h.IOPERM_OP_WRITE!;
const MAX = h.IOPERM_MAX_BATCH!;
const R = (name: string) => h[`IOPERM_RESULT_${name}`]!;
const version = ioctl("VERSION", null, 24);
const refused = op(0x64, 1); // keyboard controller: denylisted, never runs

/** The verdict of a port reply or batch header, or the Win32 error. */
function verdict(r: CtlResult | undefined, isBatch = false): string | number {
  if (!r) return "missing";
  if (!r.ok) return `error ${r.error}`;
  return isBatch ? `${reply(r).getInt32(4, true)}@${reply(r).getUint32(8, true)}` : reply(r).getInt32(0, true);
}

/** Runs cases on one rw handle, each followed by VERSION (the witness); returns the cases' results. */
function cases(lines: string[]): CtlResult[] {
  const results = ctl(["open rw", ...lines.flatMap((l) => [l, version])]);
  expect(results[0]?.ok).toBe(true);
  const got = results.slice(1);
  expect(got.length).toBe(2 * lines.length);
  const dead = got.flatMap((r, i) => (i % 2 === 1 && !r.ok ? [`after ${lines[(i - 1) / 2]!.slice(0, 60)}: error ${r.error}`] : []));
  expect(dead).toEqual([]);
  return got.filter((_, i) => i % 2 === 0);
}

/** Request bytes with one byte more or less. */
const longer = (b: Uint8Array) => new Uint8Array([...b, 0]);
const shorter = (b: Uint8Array) => b.subarray(0, b.length - 1);

describe("ioperm.sys edges under Wine", () => {
  beforeAll(() => {
    setUp();
    persistentSession();
  }, 300_000);
  afterAll(tearDown, 120_000); // Wine may take a while to end on a loaded machine

  test("ALLOWLIST and BATCH one byte too long or too short, input or output, get ERROR_BAD_LENGTH; exact ones succeed", () => {
    const one = batch([refused]); // 24 bytes
    const lines = [
      ioctl("ALLOWLIST", null, 8192), // exact: the calibration
      ioctl("ALLOWLIST", null, 8193),
      ioctl("ALLOWLIST", null, 8191),
      ioctl("ALLOWLIST", new Uint8Array(1), 8192), // input must be empty
      ioctl("BATCH", one, 24), // exact: the calibration
      ioctl("BATCH", longer(one), 25),
      ioctl("BATCH", shorter(one), 23),
      ioctl("BATCH", longer(one), 24),
      ioctl("BATCH", shorter(one), 24),
      ioctl("BATCH", one, 25),
      ioctl("BATCH", one, 23),
      ioctl("BATCH", batch([refused, refused], 1), 32), // one whole op more than the count says
      ioctl("BATCH", batch([refused], 2), 24), // one op fewer
    ];
    const got = cases(lines);
    expect(got.map((r) => (r.ok ? "ok" : `error ${r.error}`))).toEqual([
      "ok",
      ...Array(3).fill(`error ${ERROR_BAD_LENGTH}`),
      "ok",
      ...Array(8).fill(`error ${ERROR_BAD_LENGTH}`),
    ]);
    expect(got[0]!.bytes).toBe(8192);
    expect(verdict(got[4], true)).toBe(`${R("NOT_ALLOWED")}@0`);
  }, 60_000);

  test(`a batch of exactly IOPERM_MAX_BATCH (${MAX}) ops is accepted and checked to its last op; one more is refused`, () => {
    const allowedRead = op(0x378, 1); // allowed by default: checked, would run
    const ops = (n: number) => [...Array.from({ length: n - 1 }, () => allowedRead), refused];
    const full = batch(ops(MAX));
    const over = batch(ops(MAX + 1));
    const [max, plusOne] = cases([ioctl("BATCH", full, full.length), ioctl("BATCH", over, over.length)]);
    // Accepted: every op was checked (the refusal is at the last index), none ran.
    expect(verdict(max, true)).toBe(`${R("NOT_ALLOWED")}@${MAX - 1}`);
    expect(max!.bytes).toBe(full.length);
    expect(verdict(plusOne, true)).toBe(`error ${ERROR_INVALID_PARAMETER}`);
  }, 120_000);

  test("timed steps: lengths, caps, a wait outside the allowlist, and delays that run in the kernel", () => {
    const STEP = h.IOPERM_MAX_STEP_US!;
    const CALL = h.IOPERM_MAX_CALL_US!;
    const WAIT = h.IOPERM_OP_WAIT!;
    const DELAY = h.IOPERM_OP_DELAY!;
    const PULSE = h.IOPERM_OP_PULSE!;
    const delay = (us: number) => op(0, 0, DELAY, us);
    const wait = (port: number, timeoutUs: number, mask = 0x80, expect = 0x80) => [op(port, 1, WAIT, timeoutUs), pair(mask, expect)];
    const pulse = (port: number, holdUs: number) => [op(port, 1, PULSE, 0xff), pair(0, holdUs)];
    const atCap = Array.from({ length: CALL / STEP }, () => delay(STEP));
    const lists: Uint8Array[][] = [
      [...wait(0x378, 10)], // a wait is two slots: sent as one, it is the length that is off
      [...wait(0x378, STEP + 1)], // over the step cap
      [delay(STEP + 1)],
      [...pulse(0x378, STEP + 1)],
      [...atCap, delay(1)], // each step under its cap, the call over its cap by 1 us
      [...atCap, refused], // exactly at the call cap: checked on to the refused op
      [delay(5), ...wait(0x64, 10, 1, 1)], // a wait on the keyboard controller: denylisted
      [delay(5), ...wait(0x70, 10, 1, 1)], // CMOS: outside the default allowlist
      [delay(5), ...pulse(0x64, 10)],
      [op(0x378, 1, WAIT, 10)], // a head with no parameter slot
      [delay(5), ...wait(0x378, 10, 0x01, 0x02)], // expect outside mask: could never match
      [op(0x378, 0, DELAY, 5)], // a delay that names a port
    ];
    const lines = [
      ioctl("BATCH", batch(lists[0]!, 1), 24),
      ...lists.slice(1).map((l) => ioctl("BATCH", batch(l), 16 + 8 * l.length)),
      // Delays alone touch no port, so they run here: the performance counter works under Wine.
      ioctl("BATCH", batch([delay(1000), delay(0)]), 32),
    ];
    const got = cases(lines);
    expect(got.map((r, i) => (i === 0 ? (r.ok ? "ok" : `error ${r.error}`) : verdict(r, true)))).toEqual([
      `error ${ERROR_BAD_LENGTH}`,
      `${R("TOO_LONG")}@0`,
      `${R("TOO_LONG")}@0`,
      `${R("TOO_LONG")}@0`,
      `${R("TOO_LONG")}@${CALL / STEP}`,
      `${R("NOT_ALLOWED")}@${CALL / STEP}`,
      `${R("NOT_ALLOWED")}@1`,
      `${R("NOT_ALLOWED")}@1`,
      `${R("NOT_ALLOWED")}@1`,
      `${R("BAD_OP")}@0`,
      `${R("RANGE")}@1`,
      `${R("BAD_OP")}@0`,
      `${R("OK")}@2`,
    ]);
    // No timeout happened, so no value came back; the version block announces the steps.
    for (const r of got.slice(1)) expect(reply(r).getUint32(12, true)).toBe(0);
    const [v] = cases([version]);
    expect(reply(v!).getUint32(8, true) & h.IOPERM_CAP_TIMED_STEPS!).toBe(h.IOPERM_CAP_TIMED_STEPS!);
  }, 120_000);

  test("accesses that straddle an edge of the default allowlist are refused whole", () => {
    const allowed = new Set(defaultAllowlist.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i)));
    // For every default range: accesses that start inside and end outside, or
    // start outside and end inside, at widths 2 and 4, as READ, WRITE and in a batch.
    const straddles: [number, number][] = [];
    for (const [a, b] of defaultAllowlist)
      for (const width of [2, 4])
        for (let port = a - width + 1; port <= b; port++) {
          const span = Array.from({ length: width }, (_, i) => port + i);
          if (span.some((p) => allowed.has(p)) && !span.every((p) => allowed.has(p))) straddles.push([port, width]);
        }
    expect(straddles).toContainEqual([0x37f, 2]); // outw at the last port of LPT1
    expect(straddles).toContainEqual([0x3f6, 4]); // outd into COM1 from below
    const lines = straddles.flatMap(([port, width]) => [
      ioctl("WRITE", op(port, width, W, 0), 8),
      ioctl("READ", op(port, width), 8),
      ioctl("BATCH", batch([op(0x378, 1), op(port, width, W, 0)]), 32),
    ]);
    const got = cases(lines);
    const want = straddles.flatMap(() => [R("NOT_ALLOWED"), R("NOT_ALLOWED"), `${R("NOT_ALLOWED")}@1`]);
    expect(got.map((r, i) => verdict(r, i % 3 === 2))).toEqual(want);
    console.log(`${straddles.length} straddling accesses x (WRITE, READ, BATCH) refused, winedevice alive after each`);
  }, 120_000);

  test("an administrator's range with denylist holes in it: accesses straddling a hole are refused", () => {
    try {
      // 0x5C-0x6F minus 0x60 and 0x64 (keyboard controller) leaves 5C-5F, 61-63, 65-6F.
      expect(setAllowlist(["0x5C-0x6F", "0x3F8"])).toBe(true);
      const [list] = cases([ioctl("ALLOWLIST", null, 8192)]);
      const bits = Buffer.from(list!.out!, "hex");
      const allowed = [];
      for (let p = 0; p < 0x10000; p++) if (bits[p >> 3]! & (1 << (p & 7))) allowed.push(p);
      const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
      const denied = new Set(denylist.flatMap(([a, b]) => range(a, b)));
      expect(allowed).toEqual([...range(0x5c, 0x6f), 0x3f8].filter((p) => !denied.has(p)));
      expect(allowed).not.toContain(0x60);
      expect(allowed).not.toContain(0x64);
      const straddles: [number, number][] = [
        [0x5f, 2], // 5F allowed, 60 denied
        [0x5d, 4],
        [0x63, 2], // 63 allowed, 64 denied
        [0x61, 4],
        [0x6d, 4], // 70 outside the range
        [0x3f8, 2], // 3F9 outside
        [0x3f7, 2],
      ];
      const got = cases(
        straddles.flatMap(([port, width]) => [ioctl("WRITE", op(port, width, W, 0), 8), ioctl("READ", op(port, width), 8)]),
      );
      expect(got.map((r) => verdict(r))).toEqual(straddles.flatMap(() => [R("NOT_ALLOWED"), R("NOT_ALLOWED")]));
    } finally {
      setAllowlist([]);
    }
  }, 120_000);

  test("read-only and write-only handles get exactly the IOCTLs their access bits allow (README's table, checked against the header)", () => {
    // README, "Which requests": FILE_READ_DATA for VERSION, ALLOWLIST, READ;
    // FILE_WRITE_DATA for WRITE; both for BATCH and the IOPM codes.
    const needs: Record<string, string> = {
      VERSION: "r",
      ALLOWLIST: "r",
      READ: "r",
      WRITE: "w",
      BATCH: "rw",
      IOPM_GRANT: "rw",
      IOPM_REVOKE: "rw",
    };
    const header = readFileSync(join(root, "windows-driver/include/ioperm_ioctl.h"), "utf8");
    for (const [name, need] of Object.entries(needs)) {
      const access = new RegExp(`#define IOCTL_IOPERM_${name} IOPERM_CTL_CODE\\(0x[0-9a-fA-F]+u, ([^)]+)\\)`).exec(header)?.[1] ?? "";
      const bits = `${access.includes("IOPERM_FILE_READ_DATA") ? "r" : ""}${access.includes("IOPERM_FILE_WRITE_DATA") ? "w" : ""}`;
      expect({ name, bits }).toEqual({ name, bits: need });
    }
    // A request per code that the driver answers without touching a port.
    const requests: Record<string, string> = {
      VERSION: version,
      ALLOWLIST: ioctl("ALLOWLIST", null, 8192),
      READ: ioctl("READ", refused, 8),
      WRITE: ioctl("WRITE", op(0x64, 1, W, 0), 8),
      BATCH: ioctl("BATCH", batch([refused]), 24),
      IOPM_GRANT: ioctl("IOPM_GRANT", new Uint8Array([0x78, 0x03, 0, 0, 1, 0, 0, 0]), 8),
      IOPM_REVOKE: ioctl("IOPM_REVOKE", null, 8),
    };
    // What the driver itself answers when the access check lets the request through (x64 build).
    const answer: Record<string, string> = {
      VERSION: "ok",
      ALLOWLIST: "ok",
      READ: `verdict ${R("NOT_ALLOWED")}`,
      WRITE: `verdict ${R("NOT_ALLOWED")}`,
      BATCH: `verdict ${R("NOT_ALLOWED")}`,
      IOPM_GRANT: `error ${ERROR_NOT_SUPPORTED}`,
      IOPM_REVOKE: `error ${ERROR_NOT_SUPPORTED}`,
    };
    const names = Object.keys(requests);
    const modes = ["r", "w", "rw", "none"];
    const results = ctl(modes.flatMap((m) => [`open ${m}`, ...names.map((n) => requests[n]!)]));
    const show = (name: string, r: CtlResult | undefined) =>
      !r
        ? "missing"
        : !r.ok
          ? `error ${r.error}`
          : ["READ", "WRITE", "BATCH"].includes(name)
            ? `verdict ${
                verdict(r, name === "BATCH")
                  .toString()
                  .split("@")[0]
              }`
            : "ok";
    const got: Record<string, Record<string, string>> = {};
    const want: Record<string, Record<string, string>> = {};
    modes.forEach((m, i) => {
      const block = results.slice(i * (names.length + 1), (i + 1) * (names.length + 1));
      expect({ mode: m, open: block[0]?.ok }).toEqual({ mode: m, open: true });
      got[m] = Object.fromEntries(names.map((n, j) => [n, show(n, block[j + 1])]));
      want[m] = Object.fromEntries(
        names.map((n) => [n, [...needs[n]!].every((c) => m.includes(c)) ? answer[n]! : `error ${ERROR_ACCESS_DENIED}`]),
      );
    });
    expect(got).toEqual(want);
    // Spelled out for the two handles the issue names.
    expect(Object.entries(got.r!).flatMap(([n, v]) => (v.startsWith(`error ${ERROR_ACCESS_DENIED}`) ? [] : [n]))).toEqual([
      "VERSION",
      "ALLOWLIST",
      "READ",
    ]);
    expect(Object.entries(got.w!).flatMap(([n, v]) => (v.startsWith(`error ${ERROR_ACCESS_DENIED}`) ? [] : [n]))).toEqual(["WRITE"]);
  }, 60_000);
});
