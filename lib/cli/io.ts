/**
 * `ioperm inb|inw|inl PORT` and `ioperm outb|outw|outl PORT VALUE`: one access,
 * granting only the bytes it touches, like Debian's ioport tools.
 *   --json      {"port":…,"width":…,"value":…}
 *   --backend   auto (default), direct, devport or driver
 * Exit: 0 done, 1 refused (the error says why), 64 usage.
 */
import type { Width } from "../check.ts";
import { EXIT, hexValue, parseNumber, splitOptions, UsageError, withGrant } from "./args.ts";
import type { Command } from "./command.ts";

const widths: Record<string, Width> = { b: 8, w: 16, l: 32 };

/** The command for one instruction name, e.g. "inb" or "outl". */
export function ioCommand(name: string): Command {
  const out = name.startsWith("out");
  const width = widths[name.at(-1) ?? ""] ?? 8;
  const usage = `usage: ioperm ${name} PORT${out ? " VALUE" : ""} [--json] [--backend auto|direct|devport|driver]`;
  return {
    summary: out ? `write ${width} bits to a port (like Debian's ${name})` : `read ${width} bits from a port (like Debian's ${name})`,
    async run(args) {
      let port: number;
      let value = 0;
      let opts: ReturnType<typeof splitOptions>;
      try {
        opts = splitOptions(args);
        if (opts.rest.length !== (out ? 2 : 1)) throw new UsageError(`${name} takes ${out ? "PORT VALUE" : "PORT"}`);
        port = parseNumber(opts.rest[0], "PORT", 0x10000 - width / 8);
        if (out) value = parseNumber(opts.rest[1], "VALUE", 2 ** width - 1);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        console.error(`ioperm ${name}: ${e.message}\n${usage}`);
        return EXIT.usage;
      }
      return withGrant(opts.backend, port, width / 8, name, (io) => {
        if (out) io.write(width, port, value);
        else value = io.read(width, port);
        if (opts.json) console.log(JSON.stringify({ port, width, value }));
        else if (!out) console.log(hexValue(value, width / 4));
      });
    },
  };
}
