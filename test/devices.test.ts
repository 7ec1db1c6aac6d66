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
