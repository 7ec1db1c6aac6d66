/**
 * What the port commands share: parsing a port or value (0x378, 888), the
 * --json and --backend options, opening a handle that grants exactly one
 * range, and the exit codes (0 done, 1 refused, 64 usage).
 */
import { type BackendName, type Ioperm, IopermError, open } from "../index.ts";
import { hexLower } from "../format.ts";

/** Exit codes of the port commands. */
export const EXIT = { ok: 0, refused: 1, usage: 64 } as const;

/** A usage error: printed with the command's usage, exit 64. */
export class UsageError extends Error {}

/** A port (0..0xFFFF) or value written as 0x… hex or decimal. */
export function parseNumber(text: string | undefined, what: string, max: number): number {
  if (text === undefined) throw new UsageError(`missing ${what}`);
  const n = /^0x[0-9a-f]+$/i.test(text) || /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new UsageError(`${what} must be 0..${hexLower(max)} (hex 0x… or decimal), got ${JSON.stringify(text)}`);
  return n;
}

/** Splits `--json`, `--backend B` and `--name value` options (name in `valued`) from the positionals. */
export function splitOptions(
  args: string[],
  valued: string[] = [],
): { json: boolean; backend: BackendName; values: Record<string, string>; rest: string[] } {
  const out = { json: false, backend: "auto" as BackendName, values: {} as Record<string, string>, rest: [] as string[] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (a === "--json") out.json = true;
    else if (a === "--backend" || (a.startsWith("--") && valued.includes(a.slice(2)))) {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} wants a value`);
      // No value here starts with "--" (ports, counts, backend names): the value was left out.
      if (v.startsWith("--")) throw new UsageError(`${a} wants a value, but the next argument is the option ${v}`);
      if (a === "--backend") {
        if (!["auto", "direct", "devport", "driver"].includes(v))
          throw new UsageError(`--backend must be auto, direct, devport or driver, got ${v}`);
        out.backend = v as BackendName;
      } else out.values[a.slice(2)] = v;
    } else if (a.startsWith("--")) throw new UsageError(`unknown option ${a}`);
    else out.rest.push(a);
  }
  return out;
}

/** Runs `f` with a handle that holds exactly from..from+count-1; IopermError → exit 1 with its message. */
export function withGrant(backend: BackendName, from: number, count: number, name: string, f: (io: Ioperm) => void): number {
  try {
    using io = open({ backend });
    io.grant(from, count);
    f(io);
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof IopermError)) throw e;
    console.error(`ioperm ${name}: ${e.message}`);
    return EXIT.refused;
  }
}

/** `0x` + at least `digits` hex digits, lower case as Debian's ioport prints them. */
export const hexValue = (n: number, digits: number) => hexLower(n, digits);
