/**
 * `ioperm watch PORT [--interval ms] [--count N] [--duration ms]`: reads a byte
 * port every interval (default 50 ms) and prints one line each time the value
 * changes (and the first), with the bits decoded for the registers it knows:
 * parallel-port status and control, UART line and modem status.
 *   --json   one JSON object per line
 * It stops after --count lines or --duration ms, or at Ctrl-C.
 */
import { decodeControl, decodeStatus, LPT_BASES } from "../devices/lpt.ts";
import { UART_BASES } from "../devices/uart.ts";
import { EXIT, hexValue, parseNumber, splitOptions, UsageError, withGrant } from "./args.ts";
import type { Command } from "./command.ts";

const usage = "usage: ioperm watch PORT [--interval ms] [--count N] [--duration ms] [--json] [--backend …]";

/** The named bits of a known register, or null: LPT status/control, UART LSR/MSR at the legacy bases. */
export function decodeRegister(port: number, value: number): { register: string; bits: Record<string, boolean> } | null {
  const named = (r: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(r).filter(([k]) => k !== "raw")) as Record<string, boolean>;
  for (const base of LPT_BASES) {
    if (port === base + 1) return { register: `LPT ${hexValue(base, 3)} status`, bits: named({ ...decodeStatus(value) }) };
    if (port === base + 2) return { register: `LPT ${hexValue(base, 3)} control`, bits: named({ ...decodeControl(value) }) };
  }
  for (const base of UART_BASES) {
    const bit = (names: string[]) => Object.fromEntries(names.map((n, i) => [n, (value & (1 << i)) !== 0]));
    if (port === base + 5)
      return {
        register: `UART ${hexValue(base, 3)} LSR`,
        bits: bit(["dataReady", "overrun", "parityError", "framingError", "break", "thrEmpty", "txEmpty", "fifoError"]),
      };
    if (port === base + 6)
      return { register: `UART ${hexValue(base, 3)} MSR`, bits: bit(["dCTS", "dDSR", "trailingRI", "dDCD", "CTS", "DSR", "RI", "DCD"]) };
  }
  return null;
}

export const command: Command = {
  summary: "print a byte port's value each time it changes, with known registers' bits decoded",
  async run(args) {
    let port: number;
    let interval: number;
    let count: number;
    let duration: number;
    let opts: ReturnType<typeof splitOptions>;
    try {
      opts = splitOptions(args, ["interval", "count", "duration"]);
      if (opts.rest.length !== 1) throw new UsageError("watch takes PORT");
      port = parseNumber(opts.rest[0], "PORT", 0xffff);
      const { interval: everyMs = "50", count: times = "0", duration: forMs = "0" } = opts.values;
      interval = parseNumber(everyMs, "--interval", 60_000);
      count = parseNumber(times, "--count", 2 ** 31);
      duration = parseNumber(forMs, "--duration", 2 ** 31);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      console.error(`ioperm watch: ${e.message}\n${usage}`);
      return EXIT.usage;
    }
    const end = duration > 0 ? Date.now() + duration : Number.POSITIVE_INFINITY;
    return withGrant(opts.backend, port, 1, "watch", (io) => {
      let last = -1;
      let lines = 0;
      while (Date.now() < end && (count === 0 || lines < count)) {
        const value = io.inb(port);
        if (value !== last) {
          const decoded = decodeRegister(port, value);
          const t = new Date().toISOString();
          if (opts.json) console.log(JSON.stringify({ t, port, value, ...(decoded ?? {}) }));
          else {
            const set = decoded
              ? Object.entries(decoded.bits)
                  .filter(([, on]) => on)
                  .map(([n]) => n)
              : [];
            console.log(
              `${t} ${hexValue(port, 3)} ${hexValue(value, 2)}${decoded ? `  ${decoded.register}: ${set.join(" ") || "(none)"}` : ""}`,
            );
          }
          last = value;
          lines++;
        }
        if (interval > 0) Bun.sleepSync(interval);
      }
    });
  },
};
