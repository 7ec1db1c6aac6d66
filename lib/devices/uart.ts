/**
 * 8250-family UARTs. Registers (DLAB clear): 0 RBR/THR, 1 IER, 2 IIR (read) /
 * FCR (write), 3 LCR, 4 MCR, 5 LSR, 6 MSR, 7 scratch.
 */
import type { Ioperm } from "../index.ts";
import { hex, hexLower } from "../format.ts";

/** The legacy COM1..COM4 bases. */
export const UART_BASES = [0x3f8, 0x2f8, 0x3e8, 0x2e8] as const;

/** The 8250-family types told apart by FIFO and scratch behaviour. */
export type UartType = "8250" | "16450" | "16550" | "16550A" | "16750";

/** What probeUart found at one base. */
export interface UartProbe {
  base: number;
  present: boolean;
  scratch: boolean;
  type: UartType | null;
  /** Why it was (not) found, step by step. */
  explain: string[];
}

/**
 * Presence by LCR and scratch readback (no loopback needed), type by FIFO
 * behaviour in IIR bits 7-5 after enabling the FIFO (FCR 0xE7, with DLAB set
 * so that a 16750 accepts its 64-byte bit). Restores LCR, scratch and FIFO
 * enable; FCR is write-only, so an enabled FIFO comes back with the 8-byte
 * trigger Linux uses. Needs base..base+7 granted. Clears the FIFOs: do not run
 * it on a UART a driver is using.
 */
export function probeUart(io: Ioperm, base: number): UartProbe {
  const explain: string[] = [];
  const lcr = io.inb(base + 3);
  const scr = io.inb(base + 7);
  let present = false;
  let scratch = false;
  let type: UartType | null = null;
  try {
    // LCR holds what is written (an empty bus floats to 0xFF).
    io.outb(base + 3, 0x1b);
    const a = io.inb(base + 3);
    io.outb(base + 3, 0x03);
    const b = io.inb(base + 3);
    present = a === 0x1b && b === 0x03;
    explain.push(present ? "LCR reads back 0x1B/0x03" : `LCR does not read back (${hexLower(a)}/${hexLower(b)})`);
    if (!present) return { base, present, scratch, type, explain };
    io.outb(base + 7, 0x55);
    const s1 = io.inb(base + 7);
    io.outb(base + 7, 0xaa);
    const s2 = io.inb(base + 7);
    scratch = s1 === 0x55 && s2 === 0xaa;
    explain.push(scratch ? "scratch register holds 0x55/0xAA" : "no scratch register");

    const iirBefore = io.inb(base + 2);
    io.outb(base + 3, 0x83); // DLAB on: a 16750 takes FCR bit 5 only then
    io.outb(base + 2, 0xe7);
    io.outb(base + 3, 0x03);
    const iir = io.inb(base + 2);
    const fifo = iir >> 6;
    if (fifo === 3) type = (iir & 0x20) !== 0 ? "16750" : "16550A";
    else if (fifo === 2) type = "16550";
    else type = scratch ? "16450" : "8250";
    explain.push(`IIR after FCR 0xE7 is ${hex(iir)}: ${type}`);
    io.outb(base + 2, (iirBefore & 0xc0) !== 0 ? 0x81 : 0x00);
  } finally {
    io.outb(base + 3, lcr);
    io.outb(base + 7, scr);
  }
  return { base, present, scratch, type, explain };
}

/** One line of /proc/tty/driver/serial: the kernel's view of a UART it drives. */
export interface KernelUart {
  line: number;
  type: string;
  port: number;
  irq: number;
}

/** Parses /proc/tty/driver/serial (root only); "uart:unknown" lines are ports with nothing there. */
export function parseSerialDriver(text: string): KernelUart[] {
  const out: KernelUart[] = [];
  for (const l of text.split("\n")) {
    const m = /^(\d+): uart:(\S+) port:([0-9A-Fa-f]+) irq:(\d+)/.exec(l);
    if (!m || m[2] === "unknown") continue;
    out.push({ line: Number(m[1]), type: m[2] ?? "", port: Number.parseInt(m[3] ?? "0", 16), irq: Number(m[4]) });
  }
  return out;
}

/** Line settings for uartOpen(). */
export interface UartConfig {
  /** Default 115200. The divisor is 115200 / baud (the 1.8432 MHz clock of a PC UART). */
  baud?: number;
  dataBits?: 5 | 6 | 7 | 8;
  parity?: "none" | "odd" | "even" | "mark" | "space";
  stopBits?: 1 | 2;
  /** Enable and clear the 16550 FIFOs (default true). */
  fifo?: boolean;
  /** Internal loopback (MCR bit 4): what is sent comes back to the receiver. */
  loopback?: boolean;
}

const PARITY = { none: 0x00, odd: 0x08, even: 0x18, mark: 0x28, space: 0x38 } as const;

/** LCR and divisor for a configuration; throws RangeError for settings a PC UART cannot do. */
export function uartLineSettings(config: UartConfig = {}): { divisor: number; lcr: number } {
  const baud = config.baud ?? 115200;
  const divisor = 115200 / baud;
  if (!Number.isInteger(divisor) || divisor < 1 || divisor > 0xffff) {
    throw new RangeError(`baud ${baud} is not 115200/n for an integer n in 1..65535`);
  }
  const dataBits = config.dataBits ?? 8;
  if (![5, 6, 7, 8].includes(dataBits)) throw new RangeError(`dataBits must be 5..8, got ${dataBits}`);
  const parity = PARITY[config.parity ?? "none"];
  if (parity === undefined) throw new RangeError(`parity must be one of ${Object.keys(PARITY).join(", ")}`);
  const stop = config.stopBits ?? 1;
  if (stop !== 1 && stop !== 2) throw new RangeError(`stopBits must be 1 or 2, got ${String(stop)}`);
  return { divisor, lcr: (dataBits - 5) | (stop === 2 ? 0x04 : 0) | parity };
}

/**
 * Programs a UART: divisor latch, line format, FIFOs, DTR/RTS, interrupts off.
 * Needs base..base+7 granted. Do not use on a UART a kernel driver has open.
 * @example io.grant(0x2f8, 8); uartOpen(io, 0x2f8, { baud: 9600 }); uartWrite(io, 0x2f8, "AT\r");
 */
export function uartOpen(io: Ioperm, base: number, config: UartConfig = {}): void {
  const { divisor, lcr } = uartLineSettings(config);
  io.outb(base + 1, 0x00); // IER: polled, no interrupts
  io.outb(base + 3, 0x80); // DLAB: base+0/1 are the divisor latch
  io.outb(base + 0, divisor & 0xff);
  io.outb(base + 1, divisor >> 8);
  io.outb(base + 3, lcr);
  io.outb(base + 2, (config.fifo ?? true) ? 0xc7 : 0x00); // FIFOs on and cleared, 14-byte trigger
  io.outb(base + 4, 0x03 | (config.loopback ? 0x10 : 0)); // DTR, RTS (+ loopback)
}

/** The divisor latch and LCR as the UART holds them now. */
export function uartReadSettings(io: Ioperm, base: number): { divisor: number; lcr: number } {
  const lcr = io.inb(base + 3);
  io.outb(base + 3, lcr | 0x80);
  const divisor = io.inb(base) | (io.inb(base + 1) << 8);
  io.outb(base + 3, lcr);
  return { divisor, lcr: lcr & 0x7f };
}

/**
 * Sends bytes, waiting for the transmitter holding register to empty (LSR bit 5)
 * before each. Returns how many were sent before `timeoutMs` ran out.
 */
export function uartWrite(io: Ioperm, base: number, data: Uint8Array | string, timeoutMs = 1000): number {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const end = performance.now() + timeoutMs;
  let sent = 0;
  for (const b of bytes) {
    while ((io.inb(base + 5) & 0x20) === 0) if (performance.now() > end) return sent;
    io.outb(base, b);
    sent++;
  }
  return sent;
}

/**
 * Receives up to `max` bytes: reads while LSR reports data ready (bit 0), and
 * waits up to `timeoutMs` for more when it runs dry.
 */
export function uartRead(io: Ioperm, base: number, max: number, timeoutMs = 100): Uint8Array {
  const out = new Uint8Array(max);
  let n = 0;
  let end = performance.now() + timeoutMs;
  while (n < max) {
    if (io.inb(base + 5) & 0x01) {
      out[n++] = io.inb(base);
      end = performance.now() + timeoutMs;
    } else if (performance.now() > end) {
      break;
    }
  }
  return out.subarray(0, n);
}
