// IOCTL_IOPERM_PCI_READ's argument checks under Wine (iopermctl.exe, byte for
// byte), and pciRead32's own checks on the host. Wine holds no iopl here, so a
// request that reached the driver's 0xCF8 write would kill winedevice: each
// refused case is followed by a VERSION round trip, the witness that nothing
// ran. The last case calibrates that witness: a well-formed read does reach the
// instruction, and here that takes winedevice down. The real read, checked
// against the guest's /sys and lspci, is in test/lab/wine.lab.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PCI_LIMITS, pciRead32 } from "../../lib/devices/pci.ts";
import type { Ioperm } from "../../lib/index.ts";
import { ctl, h, installDriver, ioctl, reply, setUp, tearDown } from "./wine.ts";

const ERROR_BAD_LENGTH = 24; // STATUS_INFO_LENGTH_MISMATCH
const ERROR_INVALID_PARAMETER = 87; // STATUS_INVALID_PARAMETER
const ERROR_ACCESS_DENIED = 5;
const VERSION = ioctl("VERSION", null, 24);

/** IOPERM_PCI_ADDRESS bytes. */
function address(bus: number, device: number, fn: number, offset: number): Uint8Array {
  const v = new DataView(new ArrayBuffer(16));
  for (const [i, x] of [bus, device, fn, offset].entries()) v.setUint32(4 * i, x >>> 0, true);
  return new Uint8Array(v.buffer);
}

test("PCI_LIMITS are the header's IOPERM_PCI_MAX_* (the driver and ioperm.dll use those)", () => {
  expect({ ...PCI_LIMITS } as Record<string, number | undefined>).toEqual({
    bus: h.IOPERM_PCI_MAX_BUS,
    device: h.IOPERM_PCI_MAX_DEVICE,
    function: h.IOPERM_PCI_MAX_FUNCTION,
    offset: h.IOPERM_PCI_MAX_OFFSET,
  });
});

describe("pciRead32 checks its arguments before any port or driver call", () => {
  // An Ioperm whose every use fails the test: a RangeError must come first.
  const untouched = new Proxy({} as Ioperm, {
    get: (_, name) => () => {
      throw new Error(`pciRead32 reached io.${String(name)}`);
    },
  });
  test.each([
    [256, 0, 0, 0],
    [-1, 0, 0, 0],
    [0, 32, 0, 0],
    [0, 0, 8, 0],
    [0, 0, 0, 256],
    [0, 0, 0, 2],
    [0, 0, 0, 0xfd],
    [0.5, 0, 0, 0],
  ])("pciRead32(io, %p, %p, %p, %p) is a RangeError", (bus, device, fn, offset) => {
    expect(() => pciRead32(untouched, bus, device, fn, offset)).toThrow(RangeError);
  });
});

describe("IOCTL_IOPERM_PCI_READ under Wine", () => {
  beforeAll(setUp, 300_000);
  afterAll(tearDown, 120_000); // Wine may take a while to end on a loaded machine

  test("the driver advertises it (IOPERM_CAP_PCI_READ)", () => {
    const [, v] = ctl(["open r", VERSION]);
    expect(reply(v!).getUint32(8, true) & h.IOPERM_CAP_PCI_READ!).toBe(h.IOPERM_CAP_PCI_READ!);
  }, 60_000);

  test("bad lengths are ERROR_BAD_LENGTH, bad fields ERROR_INVALID_PARAMETER, write-only handles ERROR_ACCESS_DENIED; nothing runs", () => {
    const ok = address(0, 0, 0, 0);
    const cases: [string, string, number][] = [
      ["input one byte short", ioctl("PCI_READ", ok.subarray(0, 15), 4), ERROR_BAD_LENGTH],
      ["input one byte long", ioctl("PCI_READ", new Uint8Array([...ok, 0]), 4), ERROR_BAD_LENGTH],
      ["no input", ioctl("PCI_READ", null, 4), ERROR_BAD_LENGTH],
      ["output 3 bytes", ioctl("PCI_READ", ok, 3), ERROR_BAD_LENGTH],
      ["output 5 bytes", ioctl("PCI_READ", ok, 5), ERROR_BAD_LENGTH],
      ["output 8 bytes", ioctl("PCI_READ", ok, 8), ERROR_BAD_LENGTH],
      ["bus 256", ioctl("PCI_READ", address(256, 0, 0, 0), 4), ERROR_INVALID_PARAMETER],
      ["device 32", ioctl("PCI_READ", address(0, 32, 0, 0), 4), ERROR_INVALID_PARAMETER],
      ["function 8", ioctl("PCI_READ", address(0, 0, 8, 0), 4), ERROR_INVALID_PARAMETER],
      ["offset 256", ioctl("PCI_READ", address(0, 0, 0, 256), 4), ERROR_INVALID_PARAMETER],
      ["offset 2 (misaligned)", ioctl("PCI_READ", address(0, 0, 0, 2), 4), ERROR_INVALID_PARAMETER],
      ["offset 0xFF (misaligned)", ioctl("PCI_READ", address(0, 0, 0, 0xff), 4), ERROR_INVALID_PARAMETER],
      ["bus 0xFFFFFFFF", ioctl("PCI_READ", address(0xffffffff, 0, 0, 0), 4), ERROR_INVALID_PARAMETER],
    ];
    const results = ctl(["open rw", ...cases.flatMap(([, line]) => [line, VERSION])]);
    expect(results[0]!.ok).toBe(true);
    const got = cases.map(([what], i) => ({
      what,
      error: results[1 + 2 * i]?.error,
      served: results[2 + 2 * i]?.ok,
    }));
    expect(got).toEqual(cases.map(([what, , error]) => ({ what, error, served: true })));
    // FILE_READ_DATA: a write-only handle is refused by the I/O manager's access check.
    const [, wo] = ctl(["open w", ioctl("PCI_READ", ok, 4)]);
    const [, after] = ctl(["open r", VERSION]);
    expect({ error: wo?.error, served: after?.ok }).toEqual({ error: ERROR_ACCESS_DENIED, served: true });
  }, 60_000);

  // Calibrates the witness above: a well-formed request does reach `out 0xCF8`.
  // Wine on the host has no iopl, so winedevice dies (the lab VM's Wine group,
  // under iopl(3), shows the same request answered: test/lab/wine.lab.ts).
  test("witness check: a well-formed PCI_READ does execute (and kills winedevice without iopl)", () => {
    const [, read, after] = ctl(["open r", ioctl("PCI_READ", address(0, 0, 0, 0), 4), VERSION]);
    expect({ read: read!.ok, after: after!.ok }).toEqual({ read: false, after: false });
    installDriver();
  }, 120_000);
});
