// What a full run of the suite counted (test/results/suite.json): the source of
// the counts README and docs/tests.md print, and the floor a later full run must
// reach, so that the suite cannot pass on less than it did when recorded.
import { FIXED_SEEDS, PER_SEED } from "./fuzz.ts";
import { type CaseResult, fullName } from "./junit.ts";

export interface SuiteCounts {
  /** Tests that ran (passed, failed or skipped), host and lab. */
  tests: number;
  passed: number;
  skipped: number;
  /** Tests that ran inside the lab VM (reported on the host by test/vm-suite.test.ts). */
  labTests: number;
  /** Test files: host (*.test.ts) and lab (*.lab.ts). */
  hostFiles: number;
  labFiles: number;
  /** Seeds each fuzz runs (the fixed ones and one random), and its counts. */
  fuzzSeeds: number;
  fuzzHostIoctls: number;
  fuzzHostValues: number;
  fuzzLabIoctls: number;
}

/** A guest test as test/vm-suite.test.ts reports it: "name.lab.ts > …". */
const isLabTest = (r: CaseResult) => /(^|\/)vm-suite\.test\.ts$/.test(r.file) && /^[^ ]+\.lab\.ts > /.test(r.name);

export function countSuite(results: CaseResult[]): SuiteCounts {
  const lab = results.filter(isLabTest);
  return {
    tests: results.length,
    passed: results.filter((r) => r.status === "pass").length,
    skipped: results.filter((r) => r.status === "skip").length,
    labTests: lab.length,
    hostFiles: new Set(results.map((r) => r.file)).size,
    labFiles: new Set(lab.map((r) => r.name.replace(/ > .*/, ""))).size,
    fuzzSeeds: FIXED_SEEDS.length + 1,
    fuzzHostIoctls: PER_SEED.hostIoctls * (FIXED_SEEDS.length + 1),
    fuzzHostValues: PER_SEED.hostValues * (FIXED_SEEDS.length + 1),
    fuzzLabIoctls: PER_SEED.labIoctls * (FIXED_SEEDS.length + 1),
  };
}

/** Why this full run is less than the recorded one, or [] when it is not. */
export function shortfall(now: SuiteCounts, recorded: SuiteCounts): string[] {
  const keys = ["passed", "labTests", "hostFiles", "labFiles", "fuzzHostIoctls", "fuzzHostValues", "fuzzLabIoctls"] as const;
  return keys
    .filter((k) => now[k] < recorded[k])
    .map((k) => `${k}: ${now[k]}, fewer than the ${recorded[k]} recorded in test/results/suite.json`);
}

export { fullName };
