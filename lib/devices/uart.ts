/**
 * 8250-family UARTs. Registers (DLAB clear): 0 RBR/THR, 1 IER, 2 IIR (read) /
 * FCR (write), 3 LCR, 4 MCR, 5 LSR, 6 MSR, 7 scratch.
 */
import type { Ioperm } from "../index.ts";

export const UART_BASES = [0x3f8, 0x2f8, 0x3e8, 0x2e8] as const;

export type UartType = "8250" | "16450" | "16550" | "16550A" | "16750";

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
    explain.push(present ? "LCR reads back 0x1B/0x03" : `LCR does not read back (0x${a.toString(16)}/0x${b.toString(16)})`);
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
    explain.push(`IIR after FCR 0xE7 is 0x${iir.toString(16).toUpperCase()}: ${type}`);
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
