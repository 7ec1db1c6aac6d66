/**
 * PCI configuration mechanism #1: a 32-bit address to 0xCF8, data at 0xCFC.
 * Linux: needs 0xCF8-0xCFF granted; the address register is restored after a
 * scan. Windows: the driver keeps 0xCF8-0xCFF to itself (denylisted) and does
 * each read for us (IOCTL_IOPERM_PCI_READ), so nothing needs granting there.
 */
import { driverPciRead32 } from "../driver.ts";
import { hex, hexDigits } from "../format.ts";
import type { Ioperm } from "../index.ts";

/** PCI configuration mechanism #1: the 32-bit address register. */
export const PCI_ADDRESS = 0xcf8;
/** PCI configuration mechanism #1: the 32-bit data register. */
export const PCI_DATA = 0xcfc;

/** One PCI function as scanPci found it. */
export interface PciFunction {
  bus: number;
  device: number;
  function: number;
  /** "00:1f.3" */
  bdf: string;
  vendor: number;
  deviceId: number;
  /** class << 16 | subclass << 8 | prog-if */
  classCode: number;
  className: string;
  revision: number;
  /** 0 general device, 1 PCI-to-PCI bridge, 2 CardBus bridge. */
  headerType: number;
  multiFunction: boolean;
  /** The I/O-space BARs of a general device (header type 0): where a PCI serial or parallel card's ports are. */
  ioBars: { index: number; base: number }[];
}

/** The 0xCF8 value that selects bus/device/function/register (enable bit set, register dword-aligned). */
export function pciAddress(bus: number, device: number, fn: number, offset: number): number {
  return (0x80000000 | (bus << 16) | (device << 11) | (fn << 8) | (offset & 0xfc)) >>> 0;
}

/** The largest bus, device, function and offset pciRead32 takes (IOPERM_PCI_MAX_* in the driver's header). */
export const PCI_LIMITS = { bus: 255, device: 31, function: 7, offset: 252 } as const;

/** True where configuration reads go through the driver rather than the ports. */
const viaDriver = process.platform === "win32";

function checkField(name: string, value: number, max: number): void {
  if (Number.isInteger(value) && value >= 0 && value <= max) return;
  // A register offset reads as the datasheets print it; bus, device and function as lspci does.
  const show = (n: number) => (name === "offset" && Number.isInteger(n) && n >= 0 ? hex(n, 2) : String(n));
  throw new RangeError(`PCI ${name} ${show(value)} is outside ${show(0)}..${show(max)}`);
}

/**
 * One aligned dword of configuration space: bus 0-255, device 0-31, function
 * 0-7, offset 0-252 and a multiple of 4 (RangeError otherwise, on every
 * platform). All ones where no function answers.
 *
 * Linux: through 0xCF8/0xCFC, so `io` must hold 0xCF8-0xCFF. Windows: the
 * driver does the pair atomically; `io` needs no grant.
 * @example pciRead32(io, 0, 0, 0, 0x00) // 0x12378086 on QEMU's i440FX
 */
export function pciRead32(io: Ioperm, bus: number, device: number, fn: number, offset: number): number {
  checkField("bus", bus, PCI_LIMITS.bus);
  checkField("device", device, PCI_LIMITS.device);
  checkField("function", fn, PCI_LIMITS.function);
  checkField("offset", offset, PCI_LIMITS.offset);
  if (offset % 4 !== 0) throw new RangeError(`PCI offset ${hex(offset, 2)} is not a multiple of 4`);
  if (viaDriver) return driverPciRead32(bus, device, fn, offset);
  io.outl(PCI_ADDRESS, pciAddress(bus, device, fn, offset));
  return io.inl(PCI_DATA);
}

const classNames: Record<number, string> = {
  0x00: "Unclassified device",
  0x01: "Mass storage controller",
  0x02: "Network controller",
  0x03: "Display controller",
  0x04: "Multimedia controller",
  0x05: "Memory controller",
  0x06: "Bridge",
  0x07: "Communication controller",
  0x08: "Generic system peripheral",
  0x09: "Input device controller",
  0x0a: "Docking station",
  0x0b: "Processor",
  0x0c: "Serial bus controller",
  0x0d: "Wireless controller",
  0x0e: "Intelligent controller",
  0x0f: "Satellite communications controller",
  0x10: "Encryption controller",
  0x11: "Signal processing controller",
  0x12: "Processing accelerator",
  0x13: "Non-Essential Instrumentation",
  0xff: "Unassigned class",
};
const subclassNames: Record<number, string> = {
  0x0101: "IDE interface",
  0x0106: "SATA controller",
  0x0200: "Ethernet controller",
  0x0300: "VGA compatible controller",
  0x0600: "Host bridge",
  0x0601: "ISA bridge",
  0x0604: "PCI bridge",
  0x0680: "Bridge",
  0x0c03: "USB controller",
  0x0c05: "SMBus",
};

/** A short name for a class code (class << 16 | subclass << 8 | prog-if). */
export function pciClassName(classCode: number): string {
  return subclassNames[classCode >> 8] ?? classNames[classCode >> 16] ?? "Unknown class";
}

function readFunction(io: Ioperm, bus: number, device: number, fn: number): PciFunction | undefined {
  const id = pciRead32(io, bus, device, fn, 0x00);
  const vendor = id & 0xffff;
  if (vendor === 0xffff || vendor === 0x0000) return undefined;
  const cls = pciRead32(io, bus, device, fn, 0x08);
  const hdr = (pciRead32(io, bus, device, fn, 0x0c) >>> 16) & 0xff;
  const ioBars: { index: number; base: number }[] = [];
  // BARs are read, never written (sizing one would write it): bit 0 set means I/O space.
  for (let index = 0; (hdr & 0x7f) === 0 && index < 6; index++) {
    const bar = pciRead32(io, bus, device, fn, 0x10 + 4 * index);
    if (bar & 1) {
      if ((bar & 0xfffc) !== 0) ioBars.push({ index, base: bar & 0xfffc });
    } else if (((bar >> 1) & 3) === 2) index++; // a 64-bit memory BAR takes the next slot too
  }
  const h2 = (n: number) => hexDigits(n, 2);
  return {
    bus,
    device,
    function: fn,
    bdf: `${h2(bus)}:${h2(device)}.${fn}`,
    vendor,
    deviceId: id >>> 16,
    classCode: cls >>> 8,
    className: pciClassName(cls >>> 8),
    revision: cls & 0xff,
    headerType: hdr & 0x7f,
    multiFunction: (hdr & 0x80) !== 0,
    ioBars,
  };
}

/**
 * Enumerates every function on bus 0 and on the buses behind its bridges, so
 * only buses that exist are scanned. `onBus` reports progress.
 */
export function scanPci(io: Ioperm, onBus?: (bus: number, found: number) => void): PciFunction[] {
  // Windows: the driver owns the address register, so there is nothing of ours to restore.
  const saved = viaDriver ? undefined : io.inl(PCI_ADDRESS);
  const found: PciFunction[] = [];
  const pending = [0];
  const seen = new Set<number>();
  try {
    while (pending.length) {
      const bus = pending.shift() ?? 0;
      if (seen.has(bus)) continue;
      seen.add(bus);
      for (let device = 0; device < 32; device++) {
        const f0 = readFunction(io, bus, device, 0);
        if (!f0) continue;
        const fns = f0.multiFunction ? 8 : 1;
        for (let fn = 0; fn < fns; fn++) {
          const f = fn === 0 ? f0 : readFunction(io, bus, device, fn);
          if (!f) continue;
          found.push(f);
          if (f.headerType === 1) {
            const secondary = (pciRead32(io, bus, device, fn, 0x18) >>> 8) & 0xff;
            if (secondary > bus) pending.push(secondary);
          }
        }
      }
      onBus?.(bus, found.length);
    }
  } finally {
    if (saved !== undefined) io.outl(PCI_ADDRESS, saved);
  }
  return found;
}
