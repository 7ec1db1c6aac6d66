/**
 * The probe's survey of parallel ports and UARTs, at the legacy bases and on
 * PCI cards. The rules: a range the kernel has claimed (/proc/ioports) gets
 * the kernel's view, not state-changing detection, unless forced; each range
 * is granted only while it is probed.
 */
import { type Claim, claimant, LPT_BASES, type PciFunction, parseSerialDriver, probeLpt, probeUart, UART_BASES } from "../devices/index.ts";
import { hex } from "../format.ts";
import type { Ioperm } from "../index.ts";
import { readText } from "../read.ts";
import { kernelParports, withRange } from "./machine.ts";
import type { LptEntry, PciPortEntry, UartEntry } from "./report.ts";

/** The parallel ports at the legacy bases (0x378, 0x278, 0x3BC). */
export function surveyLpt(io: Ioperm, claims: Claim[] | undefined, force: boolean, notes: string[]): LptEntry[] {
  return surveyLptAt(io, LPT_BASES, claims, force, notes);
}

/** Parallel ports at these bases, under the safety rules. */
export function surveyLptAt(
  io: Ioperm,
  bases: readonly number[],
  claims: Claim[] | undefined,
  force: boolean,
  notes: string[],
): LptEntry[] {
  const kernel = kernelParports();
  return bases.map((base): LptEntry => {
    const claimedBy = claims ? claimant(claims, base, 3) : null;
    const k = kernel.find((p) => p.base === base) ?? null;
    if (claimedBy && !force) {
      return {
        base,
        present: k !== null,
        method: "kernel",
        claimedBy,
        probe: null,
        kernel: k,
        note: `claimed by ${claimedBy}: data-register readback not done (--force to override)`,
      };
    }
    if (!claims) notes.push(`/proc/ioports unreadable: cannot tell whether ${hex(base)} is claimed`);
    const probe = withRange(io, base, 3, () =>
      base + 0x402 <= 0xffff ? withRange(io, base + 0x402, 1, () => probeLpt(io, base)) : probeLpt(io, base),
    );
    return { base, present: probe.present, method: "readback", claimedBy, probe, kernel: k, note: null };
  });
}

/** The UARTs at the legacy bases (0x3F8, 0x2F8, 0x3E8, 0x2E8). */
export function surveyUart(io: Ioperm, claims: Claim[] | undefined, force: boolean): UartEntry[] {
  return UART_BASES.map((base) => uartAt(io, base, claims, force));
}

/** One UART base, under the safety rules: a claimed range gets the kernel's view unless forced. */
export function uartAt(io: Ioperm, base: number, claims: Claim[] | undefined, force: boolean): UartEntry {
  const text = readText("/proc/tty/driver/serial");
  const kernel = text ? parseSerialDriver(text) : [];
  const claimedBy = claims ? claimant(claims, base, 8) : null;
  const k = kernel.find((u) => u.port === base) ?? null;
  if (claimedBy && !force) {
    return {
      base,
      present: k !== null || text === undefined,
      method: "kernel",
      claimedBy,
      type: k?.type ?? null,
      probe: null,
      kernel: k,
      note: `claimed by ${claimedBy}: FIFO/scratch detection not done (--force to override)${text ? "" : "; /proc/tty/driver/serial unreadable"}`,
    };
  }
  const probe = withRange(io, base, 8, () => probeUart(io, base));
  return { base, present: probe.present, method: "probe", claimedBy, type: probe.type, probe, kernel: k, note: null };
}

/**
 * Ports on PCI serial (class 07 00) and parallel (07 01) cards: each I/O BAR
 * is probed like a legacy base. A serial BAR holds UARTs 8 ports apart
 * (pci-serial-2x/4x, Oxford and Moschip cards), as many as its extent in
 * /proc/ioports holds (four at most; one when that is unreadable), until one is
 * absent. Same safety rules and /proc/ioports claims as the legacy bases.
 */
export function surveyPciPorts(
  io: Ioperm,
  functions: PciFunction[],
  claims: Claim[] | undefined,
  force: boolean,
  notes: string[],
): PciPortEntry[] {
  const out: PciPortEntry[] = [];
  for (const f of functions) {
    const kind = f.classCode >> 8 === 0x0700 ? "serial" : f.classCode >> 8 === 0x0701 ? "parallel" : null;
    if (kind === null) continue;
    for (const { index, base } of f.ioBars) {
      if (kind === "parallel") {
        const [lpt] = surveyLptAt(io, [base], claims, force, notes);
        out.push({ bdf: f.bdf, kind, bar: index, base, uart: null, lpt: lpt ?? null });
        continue;
      }
      // The BAR's extent is the PCI core's reservation in /proc/ioports (BARs are never written to size them).
      const bar = claims?.find((c) => c.from === base && c.name === `0000:${f.bdf}`);
      const ports = bar ? Math.min(4, Math.floor((bar.to - base + 1) / 8)) : 1;
      for (let n = 0; n < ports; n++) {
        const uart = uartAt(io, base + 8 * n, claims, force);
        if (!uart.present) break;
        out.push({ bdf: f.bdf, kind, bar: index, base: base + 8 * n, uart, lpt: null });
      }
    }
  }
  return out;
}
