/**
 * PC parallel port: data at base, status at base+1, control at base+2, and on
 * ECP ports the extended control register (ECR) at base+0x402.
 */
import type { Ioperm } from "../index.ts";
import { hex } from "../format.ts";

/** The legacy parallel-port bases, in the order BIOSes assign LPT1..3. */
export const LPT_BASES = [0x378, 0x278, 0x3bc] as const;

/** Status register (base+1), lines as asserted (the hardware inverts BUSY, ACK and ERROR). */
export interface LptStatus {
  raw: number;
  busy: boolean;
  ack: boolean;
  paperOut: boolean;
  select: boolean;
  error: boolean;
  /** EPP timeout (bit 0) on ports that have one. */
  timeout: boolean;
}

/** Control register (base+2), lines as asserted. */
export interface LptControl {
  raw: number;
  strobe: boolean;
  autoFeed: boolean;
  initialize: boolean;
  selectIn: boolean;
  irqEnable: boolean;
  /** Data lines in input direction (bidirectional ports). */
  reverse: boolean;
}

/** Which modes a port supports, with how each was told. */
export interface LptModes {
  spp: boolean;
  /** Bidirectional (PS/2): true, false, or null when it could not be told. */
  ps2: boolean | null;
  /** EPP is not probed: an EPP cycle strobes the attached device. */
  epp: null;
  ecp: boolean;
  /** ECR mode field (bits 7-5) when an ECR is there. */
  ecrMode: string | null;
  explain: string[];
}

/** What probeLpt found at one base. */
export interface LptProbe {
  base: number;
  present: boolean;
  readback: { wrote: number; read: number }[];
  status: LptStatus;
  control: LptControl;
  modes: LptModes | null;
}

/** The status register (base+1) as named lines; BUSY and the inverted bits are given as the device drives them. */
export function decodeStatus(raw: number): LptStatus {
  return {
    raw,
    busy: (raw & 0x80) === 0,
    ack: (raw & 0x40) === 0,
    paperOut: (raw & 0x20) !== 0,
    select: (raw & 0x10) !== 0,
    error: (raw & 0x08) === 0,
    timeout: (raw & 0x01) !== 0,
  };
}

/** The control register (base+2) as named lines. */
export function decodeControl(raw: number): LptControl {
  return {
    raw,
    strobe: (raw & 0x01) !== 0,
    autoFeed: (raw & 0x02) !== 0,
    initialize: (raw & 0x04) === 0,
    selectIn: (raw & 0x08) !== 0,
    irqEnable: (raw & 0x10) !== 0,
    reverse: (raw & 0x20) !== 0,
  };
}

const ECR_MODES = ["SPP", "PS/2", "PPF (Centronics FIFO)", "ECP", "EPP", "reserved", "FIFO test", "configuration"];

/** Patterns for data-register readback: never only 0x00/0xFF, which pull-ups and pull-downs fake. */
export const READBACK_PATTERNS = [0xac, 0x53, 0x5a, 0xa5] as const;

/**
 * Detects a port by data-register readback and tells its modes where it can.
 * Reads before it writes and restores data and control. Needs base..base+2
 * granted, and base+0x402 for ECR detection (skipped when not granted).
 */
export function probeLpt(io: Ioperm, base: number): LptProbe {
  const savedData = io.inb(base);
  const savedControl = io.inb(base + 2);
  const status = decodeStatus(io.inb(base + 1));
  const control = decodeControl(savedControl);
  const readback: { wrote: number; read: number }[] = [];
  try {
    // Forward direction, or the data register reads the lines rather than the latch.
    if (savedControl & 0x20) io.outb(base + 2, savedControl & ~0x20 & 0xff);
    for (const p of READBACK_PATTERNS) {
      io.outb(base, p);
      readback.push({ wrote: p, read: io.inb(base) });
    }
  } finally {
    io.outb(base, savedData);
    io.outb(base + 2, savedControl);
  }
  const present = readback.every((r) => r.read === r.wrote);
  return { base, present, readback, status, control, modes: present ? probeModes(io, base) : null };
}

function probeModes(io: Ioperm, base: number): LptModes {
  const explain: string[] = [];
  const savedData = io.inb(base);
  const savedControl = io.inb(base + 2);
  let ps2: boolean | null = null;
  try {
    // PS/2: in reverse direction the latch no longer drives the lines, so the
    // pattern does not read back.
    io.outb(base + 2, (savedControl | 0x20) & 0xff);
    io.outb(base, 0x55);
    const a = io.inb(base);
    io.outb(base, 0xaa);
    const b = io.inb(base);
    ps2 = !(a === 0x55 && b === 0xaa);
    explain.push(
      ps2
        ? "data lines switch to input with control bit 5: bidirectional (PS/2)"
        : "control bit 5 does not release the data lines: output-only (SPP)",
    );
  } finally {
    io.outb(base, savedData);
    io.outb(base + 2, savedControl);
  }
  let ecp = false;
  let ecrMode: string | null = null;
  if (base + 0x402 <= 0xffff && io.isGranted(base + 0x402)) {
    const ecr = base + 0x402;
    // After Linux's parport_ECR_present: an ECR is not an alias of the control
    // register, shows "FIFO empty" after reset, and 0x34 reads back as 0x35.
    const savedEcr = io.inb(ecr);
    const aliases =
      (savedEcr & 0x03) === (savedControl & 0x03) &&
      (() => {
        io.outb(base + 2, savedControl ^ 0x02);
        const alias = (io.inb(ecr) & 0x02) === (io.inb(base + 2) & 0x02);
        io.outb(base + 2, savedControl);
        return alias;
      })();
    if (!aliases && (savedEcr & 0x03) === 0x01) {
      io.outb(ecr, 0x34);
      ecp = io.inb(ecr) === 0x35;
      io.outb(ecr, savedEcr);
    }
    if (ecp) ecrMode = ECR_MODES[savedEcr >> 5] ?? null;
    explain.push(ecp ? `ECR at ${hex(ecr)}: ECP-capable, current mode ${ecrMode}` : `no ECR at ${hex(ecr)}: not ECP`);
  } else {
    explain.push("ECR (base+0x402) not granted: ECP not checked");
  }
  explain.push("EPP not probed: an EPP cycle would strobe whatever is attached");
  return { spp: true, ps2, epp: null, ecp, ecrMode, explain };
}

/**
 * Sends bytes the way a printer expects them: data, then a STROBE pulse with
 * SELECT IN and INIT inactive, waiting for BUSY to clear first.
 */
export function lptWrite(io: Ioperm, base: number, bytes: Uint8Array, busyTimeout = 100_000): number {
  let sent = 0;
  for (const b of bytes) {
    for (let spin = 0; (io.inb(base + 1) & 0x80) === 0; spin++) {
      if (spin >= busyTimeout) return sent;
    }
    io.outb(base, b);
    io.outb(base + 2, 0x0d);
    io.outb(base + 2, 0x0c);
    sent++;
  }
  return sent;
}

/** The kernel's parport view (parport_pc loaded): /proc/sys/dev/parport/parportN. */
export interface KernelParport {
  name: string;
  base: number;
  modes: string[];
}

/** The kernel's view of one parport (/proc/sys/dev/parport/<name>/base-addr and modes). */
export function parseParportEntry(name: string, baseAddr: string, modes: string): KernelParport {
  return {
    name,
    base: Number.parseInt(baseAddr.trim().split(/\s+/)[0] ?? "0", 10),
    modes: modes.trim().split(",").filter(Boolean),
  };
}
