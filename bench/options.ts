/**
 * The options every benchmark entry shares (--time, --rounds, --quick), parsed
 * once here; each entry file adds its own.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

export const common = {
  quick: { type: "boolean", default: false },
  time: { type: "string" },
  rounds: { type: "string" },
} as const;

export interface Settings {
  quick: boolean;
  /** Measured time per case. */
  minTimeMs: number;
  /** Rounds over every case (round-robin). */
  rounds: number;
}

/**
 * Parses `argv` with the common options plus `extra`. `defaultRounds` is the
 * entry's own default (host: 7 processes; lab and smoke runs: 1).
 */
export function parseBenchArgs(argv: string[], extra: ParseArgsConfig["options"], defaultRounds: (quick: boolean) => number) {
  const { values } = parseArgs({ args: argv, options: { ...common, ...extra }, strict: true, allowPositionals: false });
  const v = values as Record<string, string | boolean | undefined>;
  const quick = v.quick === true;
  const time = v.time as string | undefined;
  const minTimeMs = time !== undefined ? Number(time) : quick ? 20 : 500;
  if (!Number.isFinite(minTimeMs) || minTimeMs <= 0) throw new RangeError(`--time wants a positive number of ms, got ${time}`);
  const roundsArg = v.rounds as string | undefined;
  const rounds = roundsArg !== undefined ? Number(roundsArg) : defaultRounds(quick);
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`--rounds wants a positive integer, got ${roundsArg}`);
  const settings: Settings = { quick, minTimeMs, rounds };
  return { settings, values: v };
}

/** The common options as arguments again, to hand them to another entry (a case process, the VM, Wine). */
export function settingsArgs(s: Settings): string[] {
  return ["--time", String(s.minTimeMs), "--rounds", String(s.rounds), ...(s.quick ? ["--quick"] : [])];
}

export const say = (s: string) => process.stderr.write(`${s}\n`);
