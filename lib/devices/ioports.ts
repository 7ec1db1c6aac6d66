/**
 * The kernel's claims on I/O ports, from /proc/ioports. A claimed range belongs
 * to a driver: reading an index/data pair is what lspci and hwclock also do, but
 * changing device state there races that driver.
 */
import { readText } from "../read.ts";

/** One /proc/ioports range and its claimant. */
export interface Claim {
  from: number;
  to: number;
  name: string;
  depth: number;
}

/** Parses /proc/ioports text (nested entries are indented by two spaces a level). */
export function parseIoports(text: string): Claim[] {
  const out: Claim[] = [];
  for (const line of text.split("\n")) {
    const m = /^( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*)$/.exec(line);
    if (!m) continue;
    out.push({
      depth: (m[1] ?? "").length / 2,
      from: Number.parseInt(m[2] ?? "", 16),
      to: Number.parseInt(m[3] ?? "", 16),
      name: (m[4] ?? "").trim(),
    });
  }
  return out;
}

/** Reads /proc/ioports; an unprivileged reader sees zeros, which says nothing. */
export function readIoports(path = "/proc/ioports"): Claim[] | undefined {
  const text = readText(path);
  const claims = text === undefined ? [] : parseIoports(text);
  return claims.some((c) => c.to !== 0) ? claims : undefined;
}

/** Names of the claims overlapping from..from+count-1, innermost last. */
export function claimants(claims: readonly Claim[], from: number, count = 1): string[] {
  const to = from + count - 1;
  return claims.filter((c) => c.from <= to && c.to >= from).map((c) => c.name);
}

/**
 * The most specific claimant that is a driver: skips bus-wide entries ("PCI Bus
 * 0000:00") and a PCI function's own BAR reservation ("0000:00:09.0"), which the
 * PCI core makes whether or not any driver took the ports.
 */
export function claimant(claims: readonly Claim[], from: number, count = 1): string | null {
  const names = claimants(claims, from, count).filter(
    (n) => !/^PCI Bus /.test(n) && !/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(n),
  );
  return names.at(-1) ?? null;
}
