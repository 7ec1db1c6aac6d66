/**
 * `ioperm dump PORT [COUNT]`: reads COUNT (default 16) consecutive byte ports
 * once each and prints an isadump-style table. Reads only, but a read can have
 * side effects on some registers (a UART's receive buffer): dump what you know.
 *   --json      {"from":…,"values":[…]}
 */
import { EXIT, parseNumber, splitOptions, UsageError, withGrant } from "./args.ts";
import type { Command } from "./command.ts";
import { hexDigits } from "../format.ts";

const usage = "usage: ioperm dump PORT [COUNT] [--json] [--backend auto|direct|devport|driver]";

/** Rows of 16: the first column is the row's address, then one byte each, like lm-sensors' isadump. */
export function dumpTable(from: number, values: readonly number[]): string {
  const lines = [`      ${Array.from({ length: 16 }, (_, i) => ` ${hexDigits(i)}`).join(" ")}`];
  for (let row = from & ~0xf; row < from + values.length; row += 16) {
    const cells = Array.from({ length: 16 }, (_, i) => {
      const p = row + i;
      return p < from || p >= from + values.length ? "  " : hexDigits(values[p - from] ?? 0, 2);
    });
    lines.push(`${hexDigits(row, 4)}: ${cells.join(" ")}`);
  }
  return lines.join("\n");
}

export const command: Command = {
  summary: "read a range of byte ports once each and print them as a table (like isadump)",
  async run(args) {
    let from: number;
    let count: number;
    let opts: ReturnType<typeof splitOptions>;
    try {
      opts = splitOptions(args);
      if (opts.rest.length < 1 || opts.rest.length > 2) throw new UsageError("dump takes PORT [COUNT]");
      from = parseNumber(opts.rest[0], "PORT", 0xffff);
      count = opts.rest[1] === undefined ? 16 : parseNumber(opts.rest[1], "COUNT", 0x10000 - from);
      if (count < 1) throw new UsageError("COUNT must be at least 1");
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      console.error(`ioperm dump: ${e.message}\n${usage}`);
      return EXIT.usage;
    }
    return withGrant(opts.backend, from, count, "dump", (io) => {
      const values = Array.from({ length: count }, (_, i) => io.inb(from + i));
      console.log(opts.json ? JSON.stringify({ from, values }) : dumpTable(from, values));
    });
  },
};
