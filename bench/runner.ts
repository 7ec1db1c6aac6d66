/**
 * Times a list of cases the same way in every place a benchmark runs (host
 * process, lab VM, bun.exe under Wine), and builds the result's common fields.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { libraryPath } from "../lib/index.ts";
import type { HostCase } from "./host.ts";
import { time } from "./measure.ts";
import { type CaseResult, type CaseSpec, type RunResult, SCHEMA, caseResult, machineFacts } from "./model.ts";
import { say, type Settings } from "./options.ts";
import { formatNs } from "./report.ts";
import { packageRoot as root } from "../lib/paths.ts";

const mitataVersion = (JSON.parse(readFileSync(join(root, "node_modules/mitata/package.json"), "utf8")) as { version: string }).version;
const TARGET_SAMPLE_NS = 50_000;

export type Skipped = { name: string; reason: string }[];

/** Times each case in order; a case whose first call throws is skipped with the reason. */
export async function runCases(
  { minTimeMs, rounds }: Settings,
  specs: readonly (CaseSpec & Pick<HostCase, "setup">)[],
  skipped: Skipped,
): Promise<CaseResult[]> {
  // Warm every case first: the code they share (io.inb, the checks) reaches the
  // optimising JIT tiers before anything is timed, so the first cases measured
  // are not the ones that paid for compiling it (visible under TCG's single vCPU).
  const warmNs = Math.min(50, minTimeMs / 4) * 1e6;
  for (const spec of specs) {
    const undo = spec.setup?.();
    try {
      const until = Bun.nanoseconds() + warmNs;
      while (Bun.nanoseconds() < until) spec.fn();
    } catch {
      // Reported when the case runs below.
    } finally {
      undo?.();
    }
  }
  // Rounds go through every case in turn, so drift (another process, CPU clock)
  // spreads over all cases instead of landing on a few; each case keeps its median round.
  const byName = new Map<string, CaseResult[]>();
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) say(`  round ${round}/${rounds}`);
    for (const spec of specs) {
      if (skipped.some((s) => s.name === spec.name)) continue;
      const undo = spec.setup?.();
      try {
        spec.fn(); // fail here, not inside mitata's loop
        const t = await time(spec.fn, { minTimeMs, targetSampleNs: TARGET_SAMPLE_NS });
        const r = caseResult(spec, t);
        byName.set(spec.name, [...(byName.get(spec.name) ?? []), r]);
        say(`  ${spec.name.padEnd(32)} p50 ${formatNs(r.p50_ns).padStart(9)}  p99 ${formatNs(r.p99_ns).padStart(9)}`);
      } catch (e) {
        skipped.push({ name: spec.name, reason: (e as Error).message });
        say(`  ${spec.name.padEnd(32)} skipped: ${(e as Error).message}`);
      } finally {
        undo?.();
      }
    }
  }
  return [...byName.values()].map((all) => pickRound(all, "median"));
}

/**
 * Which round a case reports: `median` for rounds within one process; `fastest`
 * for rounds in separate processes, because each Bun process lands its JIT code
 * in one of two speed modes (~2.5 ns apart on the host, for the bare call and
 * the TS path alike), and like must be compared with like. Every round's p50 is kept.
 */
export function pickRound(all: CaseResult[], how: "median" | "fastest"): CaseResult {
  const sorted = [...all].sort((a, b) => a.p50_ns - b.p50_ns);
  const chosen = how === "fastest" ? sorted[0] : sorted[(sorted.length - 1) >> 1];
  if (chosen === undefined) throw new Error("pickRound: no rounds");
  return all.length > 1 ? { ...chosen, p50_rounds_ns: all.map((r) => r.p50_ns) } : chosen;
}

/** Short hash of the native library, to tie results to a build and catch a rebuild during a run. */
function libraryHash(): string {
  return new Bun.CryptoHasher("sha256").update(readFileSync(libraryPath())).digest("hex").slice(0, 12);
}
const libraryAtStart = libraryHash();

/** A note when the library changed under the run (results then mix two builds). */
export function rebuiltNote(): string[] {
  const now = libraryHash();
  return now === libraryAtStart ? [] : [`WARNING: ${libraryPath()} changed during the run (${libraryAtStart} -> ${now}); rerun.`];
}

/** The fields every result has: schema, machine, Bun, library, harness. */
export function baseResult(
  kind: "host" | "lab",
  command: string,
  { quick, minTimeMs, rounds }: Settings,
): Omit<RunResult, "cases" | "skipped" | "notes"> {
  return {
    schema: SCHEMA,
    kind,
    command,
    date: new Date().toISOString(),
    quick,
    bun: { version: Bun.version, revision: Bun.revision },
    library: { sha256_12: libraryAtStart, bytes: readFileSync(libraryPath()).length },
    machine: machineFacts(kind === "lab"),
    harness: {
      library: `mitata ${mitataVersion}`,
      min_time_ms: minTimeMs,
      rounds,
      target_sample_ns: TARGET_SAMPLE_NS,
      note:
        "Each sample times a batch of calls sized to ~50 µs (calls_per_sample), after warm-up; p50/p99 are over " +
        "those samples, per access. Results go through mitata's do_not_optimize.",
    },
  };
}
