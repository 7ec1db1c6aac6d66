// Fuzzing ioperm.sys under Wine (issue #9): random IOCTLs on handles of every
// access, and random Parameters\AllowedPorts values each followed by a driver
// restart. Both loops run inside one Wine process (windows-driver/tools/
// iopermfuzz.c) in one persistent Wine session, so 20,000 requests and 500
// restarts take seconds, not a Wine start each.
//
// Witnesses: every reply is success or one of the documented errors below, and
// iopermfuzz checks it is the one each request's shape calls for, down to each
// port reply's verdict and refused index (README's check order); winedevice
// is alive at the end (a VERSION and ALLOWLIST from a fresh iopermctl process);
// after each restart the ALLOWLIST reply equals the reference parser's reading
// of the value (allowedports.ts) minus the header's denylist.
//
// Seeds (test/fuzz.ts): every run fuzzes the fixed seeds and one random seed,
// each printed with the command that replays it alone:
// IOPERM_FUZZ_SEED=<seed> bun test test/windows/fuzz.test.ts
// (IOPERM_FUZZ_IOCTLS and IOPERM_FUZZ_VALUES change the per-seed counts, except in CI).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { FIXED_SEEDS, fuzzCount, fuzzSeeds, PER_SEED, replayCommand } from "../fuzz.ts";
import { effective, generator, parseAllowedPorts, sizeEdges, type Value } from "./allowedports.ts";
import {
  ctl,
  defaultAllowlist,
  denylist,
  h,
  ioctl,
  jsonLines,
  out,
  persistentSession,
  root,
  setUp,
  tearDown,
  wine,
  winPath,
} from "./wine.ts";

const fuzzExe = join(dirname(out.ctl), "iopermfuzz.exe");
const seeds = fuzzSeeds();
/** Per seed; issue #9's floor of 20,000 IOCTLs holds for every seed in CI. */
const ioctlCount = fuzzCount("IOPERM_FUZZ_IOCTLS", PER_SEED.hostIoctls, PER_SEED.hostIoctls);
/** Per seed; with the fixed seeds and the random one, at least 600 values and restarts in CI. */
const valueCount = fuzzCount("IOPERM_FUZZ_VALUES", PER_SEED.hostValues, PER_SEED.hostValues);

/**
 * Every reply the driver may give, with where it is documented. Anything else
 * (a Wine error from a dead winedevice, a status nobody documented) fails.
 */
const documented: Record<number, string> = {
  0: "success (the verdict, if any, is in the reply)",
  1: "ERROR_INVALID_FUNCTION: unknown code (README: STATUS_INVALID_DEVICE_REQUEST)",
  5: "ERROR_ACCESS_DENIED: the handle lacks the code's FILE_READ_DATA/FILE_WRITE_DATA (README, header)",
  24: "ERROR_BAD_LENGTH: a length is not exact (header: STATUS_INFO_LENGTH_MISMATCH)",
  50: "ERROR_NOT_SUPPORTED: IOPM codes on x64 (header: STATUS_NOT_SUPPORTED)",
  87: "ERROR_INVALID_PARAMETER: batch count 0, above IOPERM_MAX_BATCH, or value != 0 in the header (README)",
};

/** The header's IOCTL_IOPERM_* codes, computed from IOPERM_CTL_CODE(function, access). */
function headerCodes(): Record<string, number> {
  const text = readFileSync(join(root, "windows-driver/include/ioperm_ioctl.h"), "utf8");
  const access = (expr: string) =>
    expr
      .split("|")
      .map((a) => h[a.trim()] ?? Number.NaN)
      .reduce((x, y) => x | y, 0);
  return Object.fromEntries(
    [...text.matchAll(/^#define IOCTL_IOPERM_(\w+) IOPERM_CTL_CODE\((0x[0-9A-Fa-f]+)u?, ([^)]+)\)/gm)].map((m) => [
      m[1]!,
      ((h.IOPERM_DEVICE_TYPE! << 16) | (access(m[3]!) << 14) | (Number(m[2]) << 2) | h.IOPERM_METHOD_BUFFERED!) >>> 0,
    ]),
  );
}
/** The codes iopermfuzz knows how to keep from running a port instruction. */
const fuzzable = new Set(["VERSION", "ALLOWLIST", "READ", "WRITE", "BATCH", "IOPM_GRANT", "IOPM_REVOKE", "PCI_READ"]);

interface Row {
  class: string;
  code: string;
  handle: string;
  reply: string;
  error: number;
  n: number;
}
interface Counts {
  op: "counts";
  n: number;
  broken: number;
  steered: number;
  reopened: number;
  huge: number;
  alive: boolean;
  /** Bytes that ran as outb 0xE9 (the lab's debugcon witness; 0 when steered). */
  e9_bytes: number;
  /** Successful READ/WRITE/BATCH replies by verdict: OK, NOT_ALLOWED, BAD_WIDTH, BAD_OP, RANGE. */
  verdicts: number[];
  rows: Row[];
}
interface Broken {
  op: "broken";
  i: number;
  why: string;
}

const sum = (rows: Row[]) => rows.reduce((s, r) => s + r.n, 0);

describe("fuzzing ioperm.sys under Wine", () => {
  beforeAll(() => {
    setUp();
    persistentSession();
    for (const { seed, kind } of seeds)
      console.log(`fuzz seed ${seed} (${kind}; replay: ${replayCommand(seed, "test/windows/fuzz.test.ts")})`);
  }, 300_000);
  afterAll(tearDown, 120_000); // Wine may take a while to end on a loaded machine

  for (const { seed, kind } of seeds) {
    test(`seed ${seed} (${kind}): ${ioctlCount} random IOCTLs on r, w, rw and no-access handles: only documented replies, and the driver keeps serving`, () => {
      const codes = headerCodes();
      expect(Object.keys(codes)).toContain("BATCH"); // the header parse found the codes
      const avoid = Object.entries(codes).filter(([name]) => !fuzzable.has(name));
      if (avoid.length) console.log(`not fuzzed (iopermfuzz cannot keep them off the ports): ${avoid.map(([n]) => n).join(", ")}`);
      const t0 = performance.now();
      const run = wine(fuzzExe, ["ioctl", String(seed), String(ioctlCount), ...avoid.map(([, c]) => `0x${c.toString(16)}`)], {
        IOPERM_WINE_TIMEOUT: "240",
      });
      const seconds = (performance.now() - t0) / 1000;
      const lines = jsonLines<Counts | Broken | { op: string }>(run.lines);
      const counts = lines.find((l): l is Counts => l.op === "counts");
      const broken = lines.filter((l): l is Broken => l.op === "broken");
      expect({ code: run.code, counts: counts !== undefined }).toEqual({ code: 0, counts: true });
      const rows = counts!.rows;

      const byReply = new Map<string, number>();
      for (const r of rows) byReply.set(`${r.reply} (${r.error})`, (byReply.get(`${r.reply} (${r.error})`) ?? 0) + r.n);
      const byCode = new Map<string, string[]>();
      for (const r of rows.filter((r) => r.class === "ours"))
        byCode.set(`${r.code} on ${r.handle}`, [...(byCode.get(`${r.code} on ${r.handle}`) ?? []), `${r.reply} ${r.n}`]);
      console.log(
        [
          `${counts!.n} IOCTLs in ${seconds.toFixed(1)} s (seed ${seed}): ${counts!.steered} well-formed port requests steered onto refused ports, ` +
            `${counts!.huge} with a length >= 1 MiB, ${counts!.reopened} handles reopened, ${counts!.broken} broke a rule`,
          `  port requests answered, by verdict: ${["OK", "NOT_ALLOWED", "BAD_WIDTH", "BAD_OP", "RANGE", "TIMEOUT", "TOO_LONG"].map((v, i) => `${v} ${counts!.verdicts[i]}`).join(", ")}`,
          ...["ours", "near", "random"].map((c) => `  ${c}: ${sum(rows.filter((r) => r.class === c))}`),
          ...[...byReply].map(([k, n]) => `  ${k}: ${n}`),
          ...[...byCode].map(([k, v]) => `  ${k}: ${v.join(", ")}`),
        ].join("\n"),
      );

      expect(broken).toEqual([]);
      expect(counts!.broken).toBe(0);
      expect(sum(rows)).toBe(ioctlCount);
      const undocumented = rows.filter((r) => r.reply === "other" || !(r.error in documented));
      expect(undocumented).toEqual([]);
      // The fuzz reached what it set out to: all three kinds of code, all four
      // handles, every known code answered by the driver itself, and requests
      // well-formed enough that the driver had to refuse them by their ports.
      for (const c of ["ours", "near", "random"]) expect(sum(rows.filter((r) => r.class === c))).toBeGreaterThan(ioctlCount / 10);
      for (const handle of ["r", "w", "rw", "none"]) expect(sum(rows.filter((r) => r.handle === handle))).toBeGreaterThan(ioctlCount / 20);
      for (const code of fuzzable)
        expect({
          code,
          // PCI_READ is always steered here (a valid read would run 0xCF8/0xCFC and end winedevice):
          // its own answer is the field check's; the lab's fuzz runs valid ones.
          ok: rows.some(
            (r) =>
              r.code === code &&
              r.handle === "rw" &&
              (r.reply === "ok" || r.reply === "not_supported" || (code === "PCI_READ" && r.reply === "invalid_parameter")),
          ),
        }).toEqual({
          code,
          ok: true,
        });
      expect(counts!.steered).toBeGreaterThan(0);
      // Every refusal verdict occurred (each checked against the op's fields), and nothing ran.
      expect({ ran: counts!.verdicts[0], e9: counts!.e9_bytes }).toEqual({ ran: 0, e9: 0 });
      // Every refusal was seen; a TIMEOUT needs a wait that ran, and nothing runs here.
      const timeout = h.IOPERM_RESULT_TIMEOUT!;
      for (const [i, n] of counts!.verdicts.entries()) if (i > 0 && i !== timeout) expect({ i, seen: n > 0 }).toEqual({ i, seen: true });
      expect(counts!.verdicts[timeout]).toBe(0);
      expect(counts!.huge).toBeGreaterThan(0);
      expect(counts!.alive).toBe(true);

      // An independent process still gets VERSION and the unchanged ALLOWLIST.
      const [open, v, l] = ctl(["open r", ioctl("VERSION", null, 24), ioctl("ALLOWLIST", null, 8192)]);
      expect([open!.ok, v!.ok, l!.ok]).toEqual([true, true, true]);
      const bits = Buffer.from(l!.out!, "hex");
      const allowed = defaultAllowlist.every(([a, b]) => {
        for (let p = a; p <= b; p++) if (!(bits[p >> 3]! & (1 << (p & 7)))) return false;
        return true;
      });
      expect(allowed).toBe(true);
    }, 300_000);

    test(`seed ${seed} (${kind}): ${valueCount} random AllowedPorts values, each followed by a restart: the driver reads each as the documented grammar does, minus the denylist`, () => {
      const next = generator(seed);
      // The random values, then the size limit pinned exactly (the random ones keep clear of it).
      const values: Value[] = [...Array.from({ length: valueCount }, next), ...sizeEdges()];
      const file = join(root, `.cache/windows/tmp/allowedports-${process.pid}.txt`);
      const line = (v: Value) => (v.type < 0 ? "delete" : `${v.type} ${Buffer.from(v.data).toString("hex") || "-"}`);
      writeFileSync(file, `${[...values.map(line), "delete"].join("\n")}\n`);

      const t0 = performance.now();
      const run = wine(fuzzExe, ["registry", winPath(file)], { IOPERM_WINE_TIMEOUT: "240" });
      const seconds = (performance.now() - t0) / 1000;
      interface Reply {
        i: number;
        set: number;
        start: number;
        retried: boolean;
        open: number;
        ok: boolean;
        caps: number;
        allowed: string;
      }
      const replies = jsonLines<Reply>(run.lines);
      expect({ code: run.code, replies: replies.length }).toEqual({ code: 0, replies: values.length + 1 });

      const defaults = effective(defaultAllowlist, denylist);
      const registryCap = h.IOPERM_CAP_REGISTRY_LIST!;
      const tally = new Map<string, number>();
      const wrong: unknown[] = [];
      let wineRetries = 0;
      for (const [i, v] of values.entries()) {
        const got = replies[i]!;
        const want = v.type < 0 ? { ok: true as const, ranges: defaultAllowlist } : parseAllowedPorts(v.type, v.data);
        const outcome = want.ok ? "started" : "refused";
        tally.set(`${v.kind}: ${outcome}`, (tally.get(`${v.kind}: ${outcome}`) ?? 0) + 1);
        const expected = want.ok
          ? { set: 0, start: 0, ok: true, registry: v.type >= 0, allowed: v.type < 0 ? defaults : effective(want.ranges, denylist) }
          : { set: 0, started: false, open: 2, ok: false }; // ERROR_FILE_NOT_FOUND: no device
        const actual = want.ok
          ? { set: got.set, start: got.start, ok: got.ok, registry: (got.caps & registryCap) !== 0, allowed: got.allowed }
          : { set: got.set, started: got.start === 0, open: got.open, ok: got.ok };
        // iopermfuzz tries a start once more when Wine's service manager fails it with
        // ERROR_INTERNAL_ERROR (1359), which it does now and then under load whatever the
        // value; the second start is compared like any other. Counted and printed.
        if (got.retried) {
          wineRetries++;
          console.log(`seed ${seed}: value ${i} (${v.kind}): Wine's SCM failed a start with 1359; tried once more: ${got.start}`);
        }
        if (!Bun.deepEquals(actual, expected))
          wrong.push({
            i,
            kind: v.kind,
            value: Buffer.from(v.data).toString("hex").slice(0, 200),
            why: want.ok ? "" : want.reason,
            expected,
            actual,
          });
      }
      console.log(
        [
          `${values.length} AllowedPorts values and restarts in ${seconds.toFixed(1)} s (seed ${seed}), ${wrong.length} differ from the reference, ${wineRetries} starts tried twice`,
          ...[...tally].sort().map(([k, n]) => `  ${k}: ${n}`),
        ].join("\n"),
      );
      expect(wrong.slice(0, 5)).toEqual([]);
      // Both outcomes occurred among the random values (not only the size edges), and the last line put the default back.
      const random = values.slice(0, valueCount).map((v) => (v.type < 0 || parseAllowedPorts(v.type, v.data).ok ? "started" : "refused"));
      expect({ started: random.includes("started"), refused: random.includes("refused") }).toEqual({ started: true, refused: true });
      expect(replies[values.length]).toMatchObject({
        start: 0,
        ok: true,
        caps: h.IOPERM_CAP_PORT_IO! | h.IOPERM_CAP_PCI_READ! | h.IOPERM_CAP_TIMED_STEPS!,
        allowed: defaults,
      });
    }, 300_000);
  }

  // Calibrates the rules the IOCTL fuzz checks: without steering, some
  // well-formed request reaches an allowed port, the in/out kills winedevice
  // (no iopl under Wine on the host), and the replies after it break the rules.
  // A dead winedevice answers ERROR_ACCESS_DENIED, which is documented: only
  // the per-request rules in iopermfuzz, not the list above, catch it.
  test("calibration: unsteered, a request runs a port instruction, winedevice dies and the fuzz reports it", () => {
    const run = wine(fuzzExe, ["ioctl-unsteered", String(FIXED_SEEDS[0]), "4000"], { IOPERM_WINE_TIMEOUT: "120" });
    const counts = jsonLines<Counts | { op: string }>(run.lines).find((l): l is Counts => l.op === "counts");
    expect(counts).toBeDefined();
    console.log(`unsteered: ${counts!.broken} of ${counts!.n} replies broke a rule, winedevice alive: ${counts!.alive}`);
    expect({ alive: counts!.alive, broke: counts!.broken > 0 }).toEqual({ alive: false, broke: true });
  }, 180_000);
});
