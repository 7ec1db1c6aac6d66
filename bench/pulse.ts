/**
 * Pulse-width accuracy, witnessed by QEMU: the lab guest sends pulses on LPT1's
 * data lines (bench/pulse-guest.ts), QEMU logs every parallel-port register
 * write with the host's clock (`-trace parallel_ioport_write`), and the host
 * measures each pulse from that log. Pure: text in, figures out.
 */

/** The pulse series the guest sends: each marked by a data value of its own, so the trace tells them apart. */
export interface PulseSeries {
  /** Unique within a run, e.g. "pulse-native 100us" (a figure's selector in the docs). */
  name: string;
  /** "pulse-native" (ops.pulse in one native call) or "pulse-ts" (outb, a TypeScript busy-wait, outb). */
  path: string;
  /** The width asked for, µs. */
  askedUs: number;
  /** The data value the pulse holds; the rest value is REST. */
  mark: number;
  /** How many pulses the guest sent. */
  count: number;
}

/** What every pulse returns the data lines to. */
export const REST = 0x00;

export interface PulseResult {
  name: string;
  path: string;
  asked_us: number;
  /** Pulses the guest sent, and pulses found in the trace (value write followed by the rest write). */
  sent: number;
  found: number;
  /** Held minus asked, µs, on QEMU's host clock: nearest-rank percentiles, and the extremes. */
  err_p50_us: number;
  err_p99_us: number;
  err_min_us: number;
  err_max_us: number;
}

/** One write to a parallel-port register, from the trace: host time in µs, register offset, value. */
export interface ParallelWrite {
  us: number;
  addr: number;
  value: number;
}

/**
 * Every parallel_ioport_write in a QEMU trace log written with `-msg timestamp=on`:
 * lines like `1234@1700000000.123456:parallel_ioport_write write [DATA] addr 0x00 val 0x41`.
 * Other lines (other events, QEMU's own messages) are ignored.
 */
export function parseParallelWrites(text: string): ParallelWrite[] {
  const writes: ParallelWrite[] = [];
  for (const m of text.matchAll(/^\d+@(\d+)\.(\d{1,6}):parallel_ioport_write\b.*?\baddr 0x([0-9a-f]+) val 0x([0-9a-f]+)/gim)) {
    const [, sec = "", frac = "", addr = "", value = ""] = m;
    // The fraction is microseconds, zero-padded to six digits by QEMU; pad anyway so "5" is not read as 5 µs.
    writes.push({
      us: Number(sec) * 1e6 + Number(frac.padEnd(6, "0")),
      addr: Number.parseInt(addr, 16),
      value: Number.parseInt(value, 16),
    });
  }
  return writes;
}

/**
 * Widths of the pulses with data value `mark`, µs: from each write of `mark` to
 * the data register (offset 0) to the next data write, which must be `rest`
 * (else that pulse is not counted).
 */
export function pulseWidths(writes: readonly ParallelWrite[], mark: number, rest = REST): number[] {
  const data = writes.filter((w) => w.addr === 0);
  const widths: number[] = [];
  for (let i = 0; i + 1 < data.length; i++) {
    const [w, next] = [data[i], data[i + 1]];
    if (w !== undefined && next !== undefined && w.value === mark && next.value === rest) widths.push(next.us - w.us);
  }
  return widths;
}

/** Nearest-rank percentile (0 < p <= 1) of unsorted values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length))) - 1] ?? Number.NaN;
}

/** A series' result from the trace: the error (held - asked) of every pulse found. */
export function pulseResult(series: PulseSeries, writes: readonly ParallelWrite[]): PulseResult {
  const errors = pulseWidths(writes, series.mark).map((w) => w - series.askedUs);
  return {
    name: series.name,
    path: series.path,
    asked_us: series.askedUs,
    sent: series.count,
    found: errors.length,
    err_p50_us: percentile(errors, 0.5),
    err_p99_us: percentile(errors, 0.99),
    err_min_us: errors.length > 0 ? Math.min(...errors) : Number.NaN,
    err_max_us: errors.length > 0 ? Math.max(...errors) : Number.NaN,
  };
}

/** An error in µs as the docs print it: signed, three significant digits ("+12.0 µs", "-3.00 µs", "+1,230 µs"). */
export function formatErrorUs(us: number): string {
  if (!Number.isFinite(us)) return "–";
  const r = Number(us.toPrecision(3));
  const body = Math.abs(r) >= 1000 ? Math.abs(r).toLocaleString("en-US") : Math.abs(us).toPrecision(3);
  return `${us < 0 ? "-" : "+"}${body} µs`;
}
