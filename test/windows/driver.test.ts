// ioperm.sys under Wine, spoken to byte for byte by iopermctl.exe. Wine has no
// iopl here, so an in/out that ran would kill winedevice and every later
// request would fail: each case below is followed by a VERSION round trip,
// which is the witness that the driver refused without executing and kept
// serving. Requests that would reach a port instruction are left to the lab VM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  batch,
  ctl,
  ctlCommand,
  defaultAllowlist,
  denylist,
  deviceSddl,
  h,
  installDriver,
  ioctl,
  op,
  reply,
  setAllowlist,
  setUp,
  tearDown,
  type CtlResult,
} from "./wine.ts";
import { effective } from "./allowedports.ts";

const ERROR_INVALID_FUNCTION = 1;
const ERROR_FILE_NOT_FOUND = 2;
const ERROR_ACCESS_DENIED = 5;
const ERROR_BAD_LENGTH = 24; // STATUS_INFO_LENGTH_MISMATCH
const ERROR_NOT_SUPPORTED = 50; // STATUS_NOT_SUPPORTED
const ERROR_INVALID_PARAMETER = 87; // STATUS_INVALID_PARAMETER
const VERSION_SIZE = 24;
const W = h.IOPERM_OP_WRITE!;

const version = ioctl("VERSION", null, VERSION_SIZE);

/** Runs cases on one rw handle, each followed by VERSION; returns the case results. */
function cases(lines: string[]): CtlResult[] {
  const results = ctl(["open rw", ...lines.flatMap((l) => [l, version])]);
  expect(results[0]!.ok).toBe(true);
  const got = results.slice(1);
  expect(got.length).toBe(2 * lines.length);
  got.forEach((r, i) => {
    if (i % 2 === 1)
      expect({ after: lines[(i - 1) / 2], ok: r.ok, error: r.error }).toEqual({ after: lines[(i - 1) / 2], ok: true, error: 0 });
  });
  return got.filter((_, i) => i % 2 === 0);
}

const verdict = (r: CtlResult) => (r.ok ? reply(r).getInt32(0, true) : `error ${r.error}`);

describe("ioperm.sys under Wine", () => {
  beforeAll(setUp, 300_000);
  afterAll(tearDown, 120_000); // Wine may take a while to end on a loaded machine

  test("VERSION round trip matches the header", () => {
    const [, r] = ctl(["open r", version]);
    expect(r!.ok).toBe(true);
    const v = reply(r!);
    expect({
      protocol: v.getUint32(0, true),
      driver: v.getUint32(4, true),
      capabilities: v.getUint32(8, true),
      maxBatch: v.getUint32(12, true),
      opSize: v.getUint32(16, true),
      pointerBits: v.getUint32(20, true),
    }).toEqual({
      protocol: h.IOPERM_PROTOCOL_VERSION!,
      driver: h.IOPERM_DRIVER_VERSION!,
      capabilities: h.IOPERM_CAP_PORT_IO! | h.IOPERM_CAP_PCI_READ! | h.IOPERM_CAP_TIMED_STEPS!, // x64: no IOPM, default allowlist
      maxBatch: h.IOPERM_MAX_BATCH!,
      opSize: 8,
      pointerBits: 64,
    });
  }, 60_000);

  test("every length is exact: short, long and misaligned buffers get ERROR_BAD_LENGTH", () => {
    const lines = [
      ioctl("VERSION", new Uint8Array(1), VERSION_SIZE),
      ioctl("VERSION", null, VERSION_SIZE - 1),
      ioctl("VERSION", null, VERSION_SIZE + 1),
      ioctl("ALLOWLIST", null, 8191),
      ioctl("READ", op(0x378, 1).subarray(0, 7), 8),
      ioctl("READ", new Uint8Array([...op(0x378, 1), 0]), 8),
      ioctl("READ", op(0x378, 1), 7),
      ioctl("WRITE", op(0x378, 1, W), 9),
      ioctl("BATCH", new Uint8Array(15), 15), // shorter than the header
      ioctl("BATCH", batch([op(0x64, 1)], 2), 24), // header says 2 ops, buffer holds 1
      ioctl("BATCH", new Uint8Array([...batch([op(0x64, 1)]), 0, 0, 0, 0]), 28), // not a whole op
      ioctl("BATCH", batch([op(0x64, 1)]), 23), // output one byte short
    ];
    expect(cases(lines).map(verdict)).toEqual(lines.map(() => `error ${ERROR_BAD_LENGTH}`));
  }, 60_000);

  test("bad counts, unknown codes and x86-only codes are refused", () => {
    const lines = [
      ioctl("BATCH", batch([]), 16), // count 0
      ioctl("BATCH", batch([op(0x64, 1)], h.IOPERM_MAX_BATCH! + 1), 24), // count over the limit
      ioctl("BATCH", batch([op(0x64, 1)], 0x20000001), 24), // count * 8 overflows 32 bits
      ioctl("BATCH", batch([op(0x64, 1)], 1, 1), 24), // reserved not zero
      ioctl("0xA10F3FFC", null, 0), // unknown function
      ioctl("IOPM_GRANT", new Uint8Array(8), 8), // x86 builds only
      ioctl("IOPM_REVOKE", null, 8),
    ];
    expect(cases(lines).map(verdict)).toEqual([
      ...Array(4).fill(`error ${ERROR_INVALID_PARAMETER}`),
      `error ${ERROR_INVALID_FUNCTION}`,
      `error ${ERROR_NOT_SUPPORTED}`,
      `error ${ERROR_NOT_SUPPORTED}`,
    ]);
  }, 60_000);

  test("malformed ops get their verdict before anything runs", () => {
    const lines = [
      ioctl("READ", op(0x378, 3), 8), // width 3
      ioctl("READ", op(0x378, 0), 8),
      ioctl("READ", op(0x378, 8), 8),
      ioctl("READ", op(0x378, 1, W), 8), // write flag on READ
      ioctl("WRITE", op(0x378, 1, 0), 8), // no write flag on WRITE
      ioctl("READ", op(0x378, 1, 0x80), 8), // unknown flag
      ioctl("WRITE", op(0x378, 1, W, 0x100), 8), // value wider than the port
      ioctl("WRITE", op(0x378, 2, W, 0x10000), 8),
      ioctl("READ", op(0xffff, 2), 8), // runs past 0xFFFF
      ioctl("READ", op(0xfffe, 4), 8),
    ];
    const R = (n: string) => h[`IOPERM_RESULT_${n}`]!;
    expect(cases(lines).map(verdict)).toEqual([
      R("BAD_WIDTH"),
      R("BAD_WIDTH"),
      R("BAD_WIDTH"),
      R("BAD_OP"),
      R("BAD_OP"),
      R("BAD_OP"),
      R("RANGE"),
      R("RANGE"),
      R("RANGE"),
      R("RANGE"),
    ]);
  }, 60_000);

  test("ports outside the allowlist are refused without executing", () => {
    const lines = [
      ioctl("READ", op(0x64, 1), 8), // keyboard controller
      ioctl("WRITE", op(0x64, 1, W, 0xfe), 8), // the classic reset
      ioctl("WRITE", op(0xcf9, 1, W, 0x06), 8), // reset control register
      ioctl("READ", op(0xcf8, 4), 8), // PCI config address
      ioctl("WRITE", op(0xcfc, 4, W, 0), 8), // PCI config data
      ioctl("READ", op(0x37f, 2), 8), // 0x37F allowed, 0x380 not: the whole access is refused
      ioctl("READ", op(0x70, 1), 8), // CMOS, not in the default list
    ];
    const results = cases(lines);
    expect(results.map(verdict)).toEqual(lines.map(() => h.IOPERM_RESULT_NOT_ALLOWED!));
    for (const r of results) expect(reply(r).getUint32(4, true)).toBe(0); // no value came back
  }, 60_000);

  test("batch: checked as a whole first, the refused index reported, nothing run", () => {
    const allowedRead = op(0x378, 1);
    const allowedWrite = op(0x80, 1, W, 0x55);
    const lines = [
      ioctl("BATCH", batch([allowedRead, allowedWrite, op(0xcf9, 1, W, 6)]), 40),
      ioctl("BATCH", batch([allowedRead, op(0x379, 3), op(0x64, 1)]), 40),
      ioctl("BATCH", batch([op(0x64, 1), allowedRead]), 32),
    ];
    const [a, b, c] = cases(lines);
    for (const [r, result, index, input] of [
      [a, "NOT_ALLOWED", 2, lines[0]],
      [b, "BAD_WIDTH", 1, lines[1]],
      [c, "NOT_ALLOWED", 0, lines[2]],
    ] as const) {
      expect(r!.ok).toBe(true);
      const v = reply(r!);
      expect({ result: v.getInt32(4, true), index: v.getUint32(8, true) }).toEqual({ result: h[`IOPERM_RESULT_${result}`]!, index });
      // The ops come back exactly as sent: no read value was filled in.
      expect(r!.out!.slice(32)).toBe(input!.split(" ")[2]!.slice(32));
    }
  }, 60_000);

  test("IOCTLs need the handle's access: READ/VERSION need read, WRITE needs write", () => {
    const r = ctl(["open r", ioctl("WRITE", op(0x80, 1, W, 1), 8), version, "open none", version, "open w", version]);
    expect(r.map((x) => (x.op === "open" ? `open ${x.ok}` : x.ok ? "ok" : `error ${x.error}`))).toEqual([
      "open true",
      `error ${ERROR_ACCESS_DENIED}`,
      "ok",
      "open true",
      `error ${ERROR_ACCESS_DENIED}`,
      "open true",
      `error ${ERROR_ACCESS_DENIED}`,
    ]);
  }, 60_000);

  test("the default allowlist is the header's, and leaves out 0x64 and 0xCF8-0xCFF", () => {
    const [, r] = ctl(["open r", ioctl("ALLOWLIST", null, 8192)]);
    const bits = Buffer.from(r!.out!, "hex");
    const allowed: number[] = [];
    for (let p = 0; p < 0x10000; p++) if (bits[p >> 3]! & (1 << (p & 7))) allowed.push(p);
    const want = defaultAllowlist.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
    expect(allowed).toEqual(want);
    for (const p of [0x60, 0x64, 0x70, 0xcf8, 0xcf9, 0xcfc, 0xcff]) expect(allowed).not.toContain(p);
  }, 60_000);

  test("the compiled-in denylist wins over an allowlist of every port, and the ALLOWLIST IOCTL reports it", () => {
    expect(denylist.length).toBeGreaterThanOrEqual(10);
    try {
      expect(setAllowlist(["0x0-0xFFFF"])).toBe(true);
      const [, l, cf8, dma] = ctl([
        "open rw",
        ioctl("ALLOWLIST", null, 8192),
        ioctl("READ", op(0xcf8, 4), 8),
        ioctl("READ", op(0x10, 1), 8),
        version,
      ]);
      const bits = Buffer.from(l!.out!, "hex");
      const refused: number[] = [];
      for (let p = 0; p < 0x10000; p++) if (!(bits[p >> 3]! & (1 << (p & 7)))) refused.push(p);
      expect(refused).toEqual(denylist.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i)));
      for (const p of [0x00, 0x60, 0x64, 0x92, 0xb2, 0xb3, 0xc0, 0x1f0, 0x3f6, 0x170, 0x376, 0xcf8, 0xcf9, 0xcfc])
        expect(refused).toContain(p);
      // Refused before anything runs (Wine holds no iopl here: a run in/out would kill winedevice).
      expect([verdict(cf8!), verdict(dma!)]).toEqual([h.IOPERM_RESULT_NOT_ALLOWED!, h.IOPERM_RESULT_NOT_ALLOWED!]);
    } finally {
      setAllowlist([]);
    }
  }, 120_000);

  test("Parameters\\AllowedPorts replaces the default; a malformed value stops the driver", () => {
    try {
      expect(setAllowlist(["0x70-0x71", " 0x3F8 ", "1016-1017"])).toBe(true);
      const [, v, l, read] = ctl(["open rw", version, ioctl("ALLOWLIST", null, 8192), ioctl("READ", op(0x378, 1), 8)]);
      expect(reply(v!).getUint32(8, true)).toBe(
        h.IOPERM_CAP_PORT_IO! | h.IOPERM_CAP_PCI_READ! | h.IOPERM_CAP_TIMED_STEPS! | h.IOPERM_CAP_REGISTRY_LIST!,
      );
      const bits = Buffer.from(l!.out!, "hex");
      const allowed: number[] = [];
      for (let p = 0; p < 0x10000; p++) if (bits[p >> 3]! & (1 << (p & 7))) allowed.push(p);
      expect(allowed).toEqual([0x70, 0x71, 0x3f8, 0x3f9]);
      expect(verdict(read!)).toBe(h.IOPERM_RESULT_NOT_ALLOWED!); // 0x378 was in the default only

      for (const bad of [["0x10000"], ["0x80-0x70"], ["zz"], ["0x80", "0x3f8-"]]) {
        setAllowlist(bad);
        const [open] = ctl(["open r"]);
        expect({ bad, ok: open!.ok, error: open!.error }).toEqual({ bad, ok: false, error: ERROR_FILE_NOT_FOUND });
      }
    } finally {
      setAllowlist([]);
    }
    const [, v] = ctl(["open r", version]);
    expect(reply(v!).getUint32(8, true)).toBe(h.IOPERM_CAP_PORT_IO! | h.IOPERM_CAP_PCI_READ! | h.IOPERM_CAP_TIMED_STEPS!);
  }, 120_000);

  // Only real Windows shows the device's DACL: Wine keeps none for device objects.
  // The next test pins that, so the skip is re-examined the day Wine reports one.
  test.skip("the device DACL is the header's SDDL (skipped: Wine reports no DACL for device objects; only real Windows can show it)", () => {
    const [r] = ctlCommand("security");
    expect(r!.sddl).toBe(deviceSddl);
  });

  test("Wine reports no DACL for the device, which is why the DACL check above is skipped", () => {
    const [r] = ctlCommand("security");
    expect({ ok: r!.ok, sddl: r!.sddl }).toEqual({ ok: true, sddl: "" });
  }, 60_000);

  // Calibrates the witness used above: an allowed port does reach the instruction.
  // Wine on the host has no iopl, so winedevice dies and the next VERSION fails
  // (the lab VM's Wine group, under iopl(3), shows the same request answered).
  test("witness check: an allowed READ does execute (and kills winedevice without iopl)", () => {
    const [, read, after] = ctl(["open rw", ioctl("READ", op(0x80, 1), 8), version]);
    expect({ read: read!.ok, after: after!.ok }).toEqual({ read: false, after: false });
  }, 60_000);

  test("the driver reinstalls cleanly after all of the above: the header's VERSION and the default allowlist, minus the denylist, from a fresh process", () => {
    installDriver();
    const [open, v, l] = ctl(["open r", version, ioctl("ALLOWLIST", null, 8192)]);
    expect([open!.ok, v!.ok, l!.ok]).toEqual([true, true, true]);
    const r = reply(v!);
    expect({ protocol: r.getUint32(0, true), driver: r.getUint32(4, true), capabilities: r.getUint32(8, true) }).toEqual({
      protocol: h.IOPERM_PROTOCOL_VERSION!,
      driver: h.IOPERM_DRIVER_VERSION!,
      capabilities: h.IOPERM_CAP_PORT_IO! | h.IOPERM_CAP_PCI_READ! | h.IOPERM_CAP_TIMED_STEPS!,
    });
    // The ALLOWLIST reply is the bitmap (port p is bit p % 8 of byte p / 8): read back as ranges.
    const bits = Buffer.from(l!.out!, "hex");
    const allowed: [number, number][] = [];
    for (let p = 0; p < 0x10000; p++) if (bits[p >> 3]! & (1 << (p & 7))) allowed.push([p, p]);
    expect(effective(allowed, [])).toBe(effective(defaultAllowlist, denylist));
  }, 120_000);
});
