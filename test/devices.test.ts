// Host unit tests of the device helpers' pure logic: parsing the kernel's views,
// decoding registers, encoding PCI addresses.
import { expect, test } from "bun:test";
import {
  claimant,
  decodeControl,
  decodeStatus,
  parseIoports,
  parseParportEntry,
  parseSerialDriver,
  pciAddress,
  pciClassName,
  pciRead32,
} from "../lib/devices/index.ts";

const IOPORTS = `0000-0cf7 : PCI Bus 0000:00
  0000-001f : dma1
  0060-0060 : keyboard
  0070-0077 : rtc0
  02f8-02ff : serial
  03c0-03df : vga+
  03f8-03ff : serial
  0510-051b : QEMU0002:00
    0510-051b : fw_cfg_io
0cf8-0cff : PCI conf1
0d00-ffff : PCI Bus 0000:00
`;

test("parseIoports keeps ranges, names and nesting", () => {
  const c = parseIoports(IOPORTS);
  expect(c).toContainEqual({ from: 0x70, to: 0x77, name: "rtc0", depth: 1 });
  expect(c).toContainEqual({ from: 0x510, to: 0x51b, name: "fw_cfg_io", depth: 2 });
  expect(c).toContainEqual({ from: 0xcf8, to: 0xcff, name: "PCI conf1", depth: 0 });
});

test("claimant names the most specific driver, not the bus", () => {
  const c = parseIoports(IOPORTS);
  expect(claimant(c, 0x70, 2)).toBe("rtc0");
  expect(claimant(c, 0x2f8, 8)).toBe("serial");
  expect(claimant(c, 0x510, 2)).toBe("fw_cfg_io");
  expect(claimant(c, 0xcf8, 8)).toBe("PCI conf1");
  expect(claimant(c, 0x378, 3)).toBeNull();
  expect(claimant(c, 0x3e8, 8)).toBeNull();
});

test("parseSerialDriver keeps UARTs that exist", () => {
  const text = `serinfo:1.0 driver revision:
0: uart:16550A port:000003F8 irq:4 tx:0 rx:0 RTS|DTR
1: uart:16550A port:000002F8 irq:3 tx:0 rx:0
2: uart:unknown port:000003E8 irq:4
3: uart:unknown port:000002E8 irq:3
`;
  expect(parseSerialDriver(text)).toEqual([
    { line: 0, type: "16550A", port: 0x3f8, irq: 4 },
    { line: 1, type: "16550A", port: 0x2f8, irq: 3 },
  ]);
});

test("parport entries", () => {
  expect(parseParportEntry("parport0", "888\t1912\n", "PCSPP,TRISTATE\n")).toEqual({
    name: "parport0",
    base: 0x378,
    modes: ["PCSPP", "TRISTATE"],
  });
});

test("LPT status and control decode as asserted lines", () => {
  // QEMU's idle port: status 0xDF-ish (not busy, no ack, selected, no error).
  expect(decodeStatus(0xdf)).toMatchObject({ busy: false, ack: false, paperOut: false, select: true, error: false, timeout: true });
  expect(decodeStatus(0x00)).toMatchObject({ busy: true, ack: true, error: true, select: false });
  expect(decodeControl(0x0c)).toMatchObject({ strobe: false, initialize: false, selectIn: true, reverse: false });
  expect(decodeControl(0x21)).toMatchObject({ strobe: true, initialize: true, reverse: true });
});

test("PCI addresses and classes", () => {
  expect(pciAddress(0, 0, 0, 0)).toBe(0x80000000);
  expect(pciAddress(1, 31, 7, 0xff)).toBe(0x8001fffc);
  expect(pciClassName(0x060000)).toBe("Host bridge");
  expect(pciClassName(0x030000)).toBe("VGA compatible controller");
  expect(pciClassName(0x0b4000)).toBe("Processor");
});

test("UART line settings: divisor and LCR, and refusals", async () => {
  const { uartLineSettings } = await import("../lib/devices/index.ts");
  expect(uartLineSettings()).toEqual({ divisor: 1, lcr: 0x03 });
  expect(uartLineSettings({ baud: 9600, dataBits: 7, parity: "even", stopBits: 2 })).toEqual({ divisor: 12, lcr: 0x1e });
  expect(uartLineSettings({ baud: 50 })).toEqual({ divisor: 2304, lcr: 0x03 });
  expect(() => uartLineSettings({ baud: 100000 })).toThrow(RangeError);
  expect(() => uartLineSettings({ dataBits: 9 as 8 })).toThrow(RangeError);
  expect(() => uartLineSettings({ parity: "weird" as "none" })).toThrow(RangeError);
});

test("pci.ids: vendors, devices and classes parsed; names null where it has none", async () => {
  const { parsePciIds, pciNames } = await import("../lib/devices/pciids.ts");
  const ids = parsePciIds(`# comment
1b36  Red Hat, Inc.
\t0002  QEMU PCI 16550A Adapter
\t\t1af4 1100  QEMU Virtual Machine
8086  Intel Corporation
\t1237  440FX - 82441FX PMC [Natoma]
C 06  Bridge
\t00  Host bridge
C 07  Communication controller
\t00  Serial controller
\t\t02  16550
`);
  expect(pciNames(ids, 0x1b36, 0x0002, 0x070002)).toEqual({
    vendorName: "Red Hat, Inc.",
    deviceName: "QEMU PCI 16550A Adapter",
    classLabel: "Serial controller",
  });
  expect(pciNames(ids, 0x8086, 0x1237, 0x060000)).toEqual({
    vendorName: "Intel Corporation",
    deviceName: "440FX - 82441FX PMC [Natoma]",
    classLabel: "Host bridge",
  });
  expect(pciNames(ids, 0x8086, 0x9999, 0x068000)).toEqual({ vendorName: "Intel Corporation", deviceName: null, classLabel: "Bridge" });
  expect(pciNames(undefined, 0x8086, 0x1237, 0x060000)).toEqual({ vendorName: null, deviceName: null, classLabel: null });
});

test("claimant skips a PCI function's own BAR reservation but not the driver inside it", async () => {
  const { claimant, parseIoports } = await import("../lib/devices/ioports.ts");
  const claims = parseIoports("c000-cfff : PCI Bus 0000:00\n  c070-c07f : 0000:00:09.0\n    c070-c077 : serial\n");
  expect(claimant(claims, 0xc070, 8)).toBe("serial");
  expect(claimant(claims, 0xc078, 8)).toBeNull();
});

test("pciRead32 refuses an offset out of range or unaligned in hex, before any port access", () => {
  const io = {} as Parameters<typeof pciRead32>[0]; // never reached: the checks come first
  expect(() => pciRead32(io, 0, 0, 0, 0x100)).toThrow("PCI offset 0x100 is outside 0x00..0xFC");
  expect(() => pciRead32(io, 0, 0, 0, 0x42)).toThrow("PCI offset 0x42 is not a multiple of 4");
  expect(() => pciRead32(io, 256, 0, 0, 0)).toThrow("PCI bus 256 is outside 0..255");
});
