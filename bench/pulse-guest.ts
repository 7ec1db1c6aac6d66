/**
 * The pulse-width benchmark, inside the lab VM (bench/run.ts --vm boots it in a
 * VM of its own, with QEMU tracing every parallel-port write): sends each
 * series of PULSE_SERIES on LPT1's data lines and writes the list of series it
 * sent to $IOPERM_LAB_RUN/PULSE_FILE. It measures nothing itself: the host reads
 * the widths from QEMU's trace (bench/pulse.ts), not from this process's clock.
 *
 *   bun bench/pulse-guest.ts [--count N]
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { open, ops } from "../lib/index.ts";
import { type PulseSeries, REST } from "./pulse.ts";

/** Where the guest leaves the series it sent, in the run dir. */
export const PULSE_FILE = "bench-pulses.json";
const LPT1 = 0x378;

/** The series: native ops.pulse and a TypeScript busy-wait, at 100 µs and 1000 µs; `count` pulses each. */
export function pulseSeries(count: number): PulseSeries[] {
  return [
    { name: "pulse-native 100us", path: "pulse-native", askedUs: 100, mark: 0xa1, count },
    { name: "pulse-native 1000us", path: "pulse-native", askedUs: 1000, mark: 0xa2, count },
    { name: "pulse-ts 100us", path: "pulse-ts", askedUs: 100, mark: 0xb1, count },
    { name: "pulse-ts 1000us", path: "pulse-ts", askedUs: 1000, mark: 0xb2, count },
  ];
}

/** Sends every series on LPT1's data register (no strobe: nothing reaches the host file, only QEMU's trace). */
export function sendPulses(series: readonly PulseSeries[]): void {
  using io = open({ backend: "direct" });
  io.grant(LPT1, 1);
  io.outb(LPT1, REST);
  for (const s of series) {
    if (s.path === "pulse-native") {
      using pulse = io.prepare([ops.pulse(LPT1, s.mark, s.askedUs, REST)]);
      for (let i = 0; i < s.count; i++) pulse.run();
    } else {
      // What examples/trigger-pulse.ts does: the clock read before the write, a busy-wait, the rest write.
      for (let i = 0; i < s.count; i++) {
        const t0 = Bun.nanoseconds();
        io.outb(LPT1, s.mark);
        while (Bun.nanoseconds() - t0 < s.askedUs * 1000);
        io.outb(LPT1, REST);
      }
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Bun.argv.slice(2), options: { count: { type: "string", default: "1000" } }, strict: true });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`--count wants a positive integer, got ${values.count}`);
  const dir = process.env.IOPERM_LAB_RUN;
  if (!dir) throw new Error("bench/pulse-guest.ts runs inside the lab VM (use bun run bench --vm); IOPERM_LAB_RUN is not set");
  const series = pulseSeries(count);
  sendPulses(series);
  writeFileSync(join(dir, PULSE_FILE), `${JSON.stringify(series)}\n`);
  process.stderr.write(`lab: sent ${series.length} pulse series of ${count} on LPT1\n`);
}
