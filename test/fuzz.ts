// Seeds and counts for the fuzz tests, in one place. Every run fuzzes the fixed
// seeds, so a CI result can be reproduced, and one random seed, printed, so that
// runs keep exploring. IOPERM_FUZZ_SEED=N runs seed N alone (the replay).
// Counts are per seed and never fall below their floor in CI, whatever the
// environment says (.ci/run also clears every IOPERM_* variable).

/** Per-seed counts of each fuzz (the floors CI holds): the fixed seeds and the random one each run this many. */
export const PER_SEED = {
  /** test/windows/fuzz.test.ts: IOCTLs under Wine on the host (issue #9's floor of 20,000 per run, now per seed). */
  hostIoctls: 20_000,
  /** test/windows/fuzz.test.ts: AllowedPorts values, each followed by a driver restart. */
  hostValues: 200,
  /** test/lab/wine-fuzz.lab.ts: unsteered IOCTLs with real port I/O under Wine in the lab VM. */
  labIoctls: 2500,
} as const;

/** The seeds every run fuzzes. Changing them changes what CI reproduces: say why in the commit. */
export const FIXED_SEEDS = [0x5eed0001, 0x5eed0002] as const;

export interface FuzzSeed {
  seed: number;
  kind: "fixed" | "random" | "replay";
}

/** The seeds this run fuzzes: IOPERM_FUZZ_SEED alone (a replay), else the fixed ones and one random. */
export function fuzzSeeds(env: Record<string, string | undefined> = process.env, random = Math.random): FuzzSeed[] {
  const replay = env.IOPERM_FUZZ_SEED;
  if (replay !== undefined && env.CI !== "true") {
    const seed = Number(replay);
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
      throw new RangeError(`IOPERM_FUZZ_SEED=${replay} is not a seed (a whole number below 2^32)`);
    return [{ seed, kind: "replay" }];
  }
  return [...FIXED_SEEDS.map((seed) => ({ seed, kind: "fixed" as const })), { seed: Math.floor(random() * 2 ** 31), kind: "random" }];
}

/**
 * A per-seed count: `fallback`, or the variable `name` outside CI (for quicker
 * local runs). In CI the variable is ignored and `floor` always holds.
 */
export function fuzzCount(name: string, fallback: number, floor: number, env: Record<string, string | undefined> = process.env): number {
  const raw = env.CI === "true" ? undefined : env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name}=${raw} is not a count (a whole number >= 0)`);
  if (env.CI === "true" && n < floor) throw new RangeError(`${name}: ${n} is below the floor of ${floor} that CI holds`);
  return n;
}

/** The one command that replays a seed of a fuzz test file. */
export function replayCommand(seed: number, file: string): string {
  return file.startsWith("test/lab/")
    ? `IOPERM_FUZZ_SEED=${seed} IOPERM_LAB_ONLY=${file.replace(/^.*\//, "").replace(/\.lab\.ts$/, "")} bun test test/vm-suite.test.ts`
    : `IOPERM_FUZZ_SEED=${seed} bun test ${file}`;
}
