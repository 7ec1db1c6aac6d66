/**
 * SMBus host controllers of the PIIX4 and Intel ICH/PCH (i801) families, found
 * through PCI and driven through their host registers: status (base+0), control
 * (+2), command (+3), address (+4), data 0/1 (+5/+6). Each transaction is one
 * batch: clear the status, load the registers, START, wait for HOST_BUSY to
 * clear, read the status and data.
 *
 * Finding the controller needs 0xCF8-0xCFF granted (PCI configuration
 * mechanism #1); transactions need the controller's range granted
 * (SmbusController.base, .size ports).
 */
import { type BatchOp, ops } from "../batch.ts";
import type { Ioperm } from "../index.ts";
import { ControllerError, hex2, runSteps } from "./controller.ts";
import type { Claim } from "./ioports.ts";
import { PCI_ADDRESS, pciRead32, scanPci } from "./pci.ts";
import { hexDigits, hexLower } from "../format.ts";

/** Host status register bits (PIIX4 and i801 agree on these). */
export const SMBUS_STATUS = {
  HOST_BUSY: 0x01,
  INTR: 0x02,
  DEV_ERR: 0x04,
  BUS_ERR: 0x08,
  FAILED: 0x10,
  INUSE: 0x40,
  BYTE_DONE: 0x80,
} as const;
/** The status bits a transaction leaves behind, cleared by writing them back (not INUSE, the i801's semaphore). */
const CLEAR = SMBUS_STATUS.INTR | SMBUS_STATUS.DEV_ERR | SMBUS_STATUS.BUS_ERR | SMBUS_STATUS.FAILED | SMBUS_STATUS.BYTE_DONE;
/** Host control register: protocol in bits 4:2, START in bit 6. */
const PROTOCOL = { quick: 0x00, byte: 0x04, byteData: 0x08, wordData: 0x0c } as const;
const START = 0x40;
const REG = { status: 0, control: 2, command: 3, address: 4, data0: 5, data1: 6 } as const;

/** A host controller found on PCI. */
export interface SmbusController {
  /** "piix4" (Intel 82371AB/EB and QEMU's pc) or "i801" (Intel ICH/PCH, QEMU's q35). */
  kind: "piix4" | "i801";
  /** "00:01.3" */
  bdf: string;
  vendor: number;
  deviceId: number;
  /** The host interface's I/O base (0 when the firmware gave it none). */
  base: number;
  /** Ports the host interface decodes from base. */
  size: number;
  /** The host interface is enabled (PIIX4: SMBHSTCFG bit 0 at 0xD2; i801: HOSTC bit 0 at 0x40). */
  enabled: boolean;
  /** A short name, e.g. "Intel PIIX4 SMBus (00:01.3)". */
  name: string;
}

/**
 * Finds the first PIIX4 or Intel ICH/PCH SMBus function: PIIX4 is 8086:7113
 * function 3, its base in config register 0x90 (SMBBA) and its enable bit in
 * 0xD2; an Intel function of class 0C05 is an i801, its base in BAR4 (0x20) and
 * its enable bit in HOSTC (0x40). Needs 0xCF8-0xCFF granted; restores 0xCF8.
 * Returns null when there is none (AMD's SMBus, for one, is not supported).
 */
export function findSmbus(io: Ioperm): SmbusController | null {
  const fns = scanPci(io);
  const saved = io.inl(PCI_ADDRESS);
  try {
    for (const f of fns) {
      const rd = (off: number) => pciRead32(io, f.bus, f.device, f.function, off);
      if (f.vendor === 0x8086 && f.deviceId === 0x7113 && f.function === 3) {
        const base = rd(0x90) & 0xfff0;
        const enabled = ((rd(0xd0) >>> 16) & 1) === 1;
        return {
          kind: "piix4",
          bdf: f.bdf,
          vendor: f.vendor,
          deviceId: f.deviceId,
          base,
          size: 16,
          enabled,
          name: `Intel PIIX4 SMBus (${f.bdf})`,
        };
      }
      if (f.vendor === 0x8086 && f.classCode >> 8 === 0x0c05) {
        const bar = rd(0x20);
        const base = bar & 1 ? bar & 0xffe0 : 0;
        const enabled = (rd(0x40) & 1) === 1 && (rd(0x04) & 1) === 1; // HOSTC.HST_EN, and I/O decoding on
        return {
          kind: "i801",
          bdf: f.bdf,
          vendor: f.vendor,
          deviceId: f.deviceId,
          base,
          size: 32,
          enabled,
          name: `Intel ICH/PCH SMBus ${hexDigits(f.deviceId)} (${f.bdf})`,
        };
      }
    }
    return null;
  } finally {
    io.outl(PCI_ADDRESS, saved);
  }
}

/** Who holds a port range in /proc/ioports, told apart: a bound driver, or only a firmware or bus description. */
export interface PortOwner {
  /** The innermost claim that is a driver ("piix4_smbus", "ipmi_si", "keyboard"), or null. */
  driver: string | null;
  /** The outermost claim that only describes the range (ACPI's "IPI0001:00", "pnp 00:05", a PCI function's BAR), or null. */
  firmware: string | null;
}

/**
 * Whether a /proc/ioports name is a description, not a driver: an ACPI or PnP
 * device ID ("IPI0001:00", "PNP0C09:00", "pnp 00:05"), an ACPI table block
 * ("ACPI PM1a_EVT_BLK"), the register names of an ACPI IPMI device ("IPMI Address 1"),
 * a PCI function's own BAR ("0000:00:1f.3") or a bus.
 */
export function isDescription(name: string): boolean {
  return (
    /^PCI Bus /.test(name) ||
    /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(name) ||
    /^[A-Z][A-Z0-9]{2,3}[0-9A-F]{4}:[0-9a-f]{2}$/.test(name) ||
    /^pnp [0-9a-f]{2}:[0-9a-f]{2}$/.test(name) ||
    /^ACPI /.test(name) ||
    /^IPMI Address \d+$/.test(name)
  );
}

/** The driver (innermost) and the firmware description (outermost) holding from..from+count-1. */
export function portOwner(claims: readonly Pick<Claim, "from" | "to" | "name">[], from: number, count: number): PortOwner {
  const to = from + count - 1;
  const names = claims.filter((c) => c.from <= to && c.to >= from).map((c) => c.name);
  return {
    driver: names.filter((n) => !isDescription(n)).at(-1) ?? null,
    // The outermost description names the device (ACPI's "IPI0001:00", not its register "IPMI Address 1").
    firmware: names.find((n) => isDescription(n) && !/^PCI Bus /.test(n)) ?? null,
  };
}

/** Options of transactions: the wait for HOST_BUSY to clear. */
export interface SmbusOptions {
  /** Microseconds a transaction may take (default 20 ms; at most MAX_STEP_US). */
  timeoutUs?: number;
  /**
   * The register family (default "piix4"). An "i801" host also has the INUSE
   * semaphore that firmware and other agents share: a status read takes it
   * when free, and each transaction gives it back.
   */
  kind?: SmbusController["kind"];
}

function checkAddress(addr: number): void {
  if (!Number.isInteger(addr) || addr < 0 || addr > 0x7f) throw new RangeError(`SMBus address ${addr} is outside 0..0x7F (7-bit)`);
}
function checkByte(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`SMBus ${what} ${v} is not a byte (0..0xFF)`);
}

/**
 * One SMBus host interface at `base` (PIIX4 or i801 register layout). Its range
 * must be granted; `SmbusHost.open` checks the ownership and grants it.
 */
export class SmbusHost {
  readonly io: Ioperm;
  readonly base: number;
  readonly timeoutUs: number;
  readonly kind: SmbusController["kind"];

  constructor(io: Ioperm, base: number, opts: SmbusOptions = {}) {
    this.io = io;
    this.base = base;
    this.timeoutUs = opts.timeoutUs ?? 20_000;
    this.kind = opts.kind ?? "piix4";
  }

  /**
   * Finds the controller, refuses when a kernel driver holds its range (unless
   * `force`), and grants the range (unless grantAll() holds every port). Needs
   * 0xCF8-0xCFF granted for the search.
   */
  static open(
    io: Ioperm,
    opts: SmbusOptions & { force?: boolean; claims?: readonly Pick<Claim, "from" | "to" | "name">[] } = {},
  ): { host: SmbusHost; controller: SmbusController; owner: PortOwner } {
    const c = findSmbus(io);
    if (!c)
      throw new ControllerError(
        "NOT_FOUND",
        "smbus",
        "smbus: no PIIX4 or Intel ICH/PCH SMBus function on PCI (other controllers are not supported)",
      );
    if (!c.enabled || c.base === 0)
      throw new ControllerError(
        "NOT_FOUND",
        "smbus",
        `smbus: ${c.name} has its host interface disabled or no I/O base (${hex2(c.base)}); the firmware did not set it up`,
      );
    const owner = opts.claims ? portOwner(opts.claims, c.base, c.size) : { driver: null, firmware: null };
    if (owner.driver && !opts.force)
      throw new ControllerError(
        "CLAIMED",
        "smbus",
        `smbus: ${c.name} at ${hexLower(c.base)} is held by the kernel driver ${owner.driver} (/proc/ioports); its transfers would interleave with ours. Use /dev/i2c-* (i2c-tools) instead, unload the driver, or force it`,
      );
    if (!io.grants().all) io.grant(c.base, c.size); // under grantAll() (iopl) every port is held already
    return { host: new SmbusHost(io, c.base, { ...opts, kind: c.kind }), controller: c, owner };
  }

  /** Runs one transaction; returns [status, data0, data1] or throws the typed error the status names. */
  #transact(addr: number, read: boolean, protocol: number, command: number, data0 = 0, data1 = 0): { data0: number; data1: number } {
    const b = this.base;
    // i801: this read takes the INUSE semaphore when it is free; set already, another agent holds it.
    const semaphore = this.kind === "i801" ? SMBUS_STATUS.INUSE : 0;
    const [before = 0xff] = this.io.batch([ops.inb(b + REG.status)]);
    if (before & semaphore)
      throw new ControllerError(
        "CONTROLLER_ERROR",
        "smbus",
        `smbus: another agent (firmware, ACPI, a driver) holds the host's INUSE semaphore (status ${hex2(before)}); try again later`,
        before,
      );
    if (before & SMBUS_STATUS.HOST_BUSY) {
      if (semaphore) this.io.outb(b + REG.status, semaphore); // give back what the read took, nothing else
      throw new ControllerError(
        "CONTROLLER_ERROR",
        "smbus",
        `smbus: the host is busy (status ${hex2(before)}): another agent is using it`,
        before,
      );
    }
    const steps: BatchOp[] = [
      ops.outb(b + REG.status, CLEAR),
      ops.outb(b + REG.address, (addr << 1) | (read ? 1 : 0)),
      ops.outb(b + REG.command, command),
      ops.outb(b + REG.data0, data0),
      ops.outb(b + REG.data1, data1),
      ops.outb(b + REG.control, protocol | START),
      ops.delay(25), // the host sets HOST_BUSY a moment after START
      ops.wait(b + REG.status, SMBUS_STATUS.HOST_BUSY, 0, this.timeoutUs),
      ops.inb(b + REG.status),
      ops.inb(b + REG.data0),
      ops.inb(b + REG.data1),
      ops.outb(b + REG.status, CLEAR | semaphore), // and the semaphore given back
    ];
    let v: number[];
    try {
      v = runSteps(this.io, steps, "smbus", () => `waiting for HOST_BUSY to clear (address ${hex2(addr)})`);
    } catch (e) {
      this.io.outb(b + REG.status, CLEAR | semaphore);
      throw e;
    }
    const status = v[8] ?? 0;
    if (status & SMBUS_STATUS.DEV_ERR)
      throw new ControllerError(
        "NO_DEVICE",
        "smbus",
        `smbus: no device acknowledged address ${hex2(addr)} (DEV_ERR, status ${hex2(status)})`,
        status,
      );
    if (status & SMBUS_STATUS.BUS_ERR)
      throw new ControllerError(
        "CONTROLLER_ERROR",
        "smbus",
        `smbus: bus collision at address ${hex2(addr)} (BUS_ERR, status ${hex2(status)})`,
        status,
      );
    if (status & SMBUS_STATUS.FAILED)
      throw new ControllerError("CONTROLLER_ERROR", "smbus", `smbus: the transaction was killed (FAILED, status ${hex2(status)})`, status);
    if (!(status & SMBUS_STATUS.INTR))
      throw new ControllerError("CONTROLLER_ERROR", "smbus", `smbus: the transaction ended without INTR (status ${hex2(status)})`, status);
    return { data0: v[9] ?? 0, data1: v[10] ?? 0 };
  }

  /** Quick command (the R/W bit is the data); true when the address acknowledged. */
  quick(addr: number, read = false): boolean {
    checkAddress(addr);
    return this.#answers(() => this.#transact(addr, read, PROTOCOL.quick, 0));
  }

  /** Receive byte: one byte from the device's current position. */
  receiveByte(addr: number): number {
    checkAddress(addr);
    return this.#transact(addr, true, PROTOCOL.byte, 0).data0;
  }

  /** Read byte data: register `reg` of the device (an SPD EEPROM: the byte at offset `reg`). */
  readByte(addr: number, reg: number): number {
    checkAddress(addr);
    checkByte("register", reg);
    return this.#transact(addr, true, PROTOCOL.byteData, reg).data0;
  }

  /** Read word data: register `reg`, low byte first on the wire (as i2cget's w mode prints it). */
  readWord(addr: number, reg: number): number {
    checkAddress(addr);
    checkByte("register", reg);
    const r = this.#transact(addr, true, PROTOCOL.wordData, reg);
    return r.data0 | (r.data1 << 8);
  }

  /** Write byte data: `value` to register `reg` of the device at `addr` (the caller names the address: nothing is written by a scan). */
  writeByte(addr: number, reg: number, value: number): void {
    checkAddress(addr);
    checkByte("register", reg);
    checkByte("value", value);
    this.#transact(addr, false, PROTOCOL.byteData, reg, value);
  }

  #answers(f: () => unknown): boolean {
    try {
      f();
      return true;
    } catch (e) {
      if (e instanceof ControllerError && e.code === "NO_DEVICE") return false;
      throw e;
    }
  }

  /**
   * The addresses that acknowledge, probed as i2cdetect does by default: a
   * receive byte at 0x30-0x37 and 0x50-0x5F (where a quick write could
   * corrupt an EEPROM's write-protect or pointer), a quick write elsewhere.
   */
  scan(first = 0x08, last = 0x77): number[] {
    checkAddress(first);
    checkAddress(last);
    const found: number[] = [];
    for (let a = first; a <= last; a++) {
      const byRead = (a >= 0x30 && a <= 0x37) || (a >= 0x50 && a <= 0x5f);
      if (this.#answers(() => (byRead ? this.#transact(a, true, PROTOCOL.byte, 0) : this.#transact(a, false, PROTOCOL.quick, 0))))
        found.push(a);
    }
    return found;
  }
}

/**
 * The grid `i2cdetect -y` prints for these addresses: "--" where nothing
 * answered, the address where one did, blanks outside first..last.
 */
export function i2cdetectGrid(found: readonly number[], first = 0x08, last = 0x77): string {
  const lines = ["     0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f"];
  const set = new Set(found);
  for (let row = 0; row < 0x80; row += 16) {
    let line = `${hexDigits(row, 2)}: `;
    for (let col = 0; col < 16; col++) {
      const a = row + col;
      line += a < first || a > last ? "   " : set.has(a) ? `${hexDigits(a, 2)} ` : "-- ";
    }
    lines.push(line);
  }
  return `${lines.join("\n")}\n`;
}

/** Parses i2cdetect's grid back into the addresses shown ("UU", in use by a driver, counts as present). */
export function parseI2cdetect(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-7]0):(.*)$/.exec(line);
    if (!m) continue;
    const row = Number.parseInt(m[1] ?? "0", 16);
    const cells = (m[2] ?? "").slice(1).match(/.{1,3}/g) ?? [];
    cells.forEach((c, i) => {
      const t = c.trim();
      if (t !== "" && t !== "--") out.push(row + i);
    });
  }
  return out;
}
