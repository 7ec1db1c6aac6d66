// Host unit test of the fuzz seeds and counts (test/fuzz.ts).
import { expect, test } from "bun:test";
import { FIXED_SEEDS, fuzzCount, fuzzSeeds, replayCommand } from "./fuzz.ts";

test("a run fuzzes the fixed seeds and one random seed", () => {
  expect(fuzzSeeds({}, () => 0.5)).toEqual([
    ...FIXED_SEEDS.map((seed) => ({ seed, kind: "fixed" as const })),
    { seed: 2 ** 30, kind: "random" as const },
  ]);
});

test("IOPERM_FUZZ_SEED replays one seed, but not in CI; a bad seed is refused", () => {
  expect(fuzzSeeds({ IOPERM_FUZZ_SEED: "42" })).toEqual([{ seed: 42, kind: "replay" }]);
  expect(fuzzSeeds({ IOPERM_FUZZ_SEED: "42", CI: "true" }, () => 0).map((s) => s.kind)).toEqual(["fixed", "fixed", "random"]);
  expect(() => fuzzSeeds({ IOPERM_FUZZ_SEED: "x" })).toThrow("IOPERM_FUZZ_SEED=x is not a seed");
});

test("counts: the variable lowers them locally, never in CI, and never below the floor in CI", () => {
  expect(fuzzCount("N", 20_000, 20_000, {})).toBe(20_000);
  expect(fuzzCount("N", 20_000, 20_000, { N: "10" })).toBe(10);
  expect(fuzzCount("N", 20_000, 20_000, { N: "10", CI: "true" })).toBe(20_000);
  expect(() => fuzzCount("N", 5, 10, { CI: "true" })).toThrow("below the floor of 10");
  expect(() => fuzzCount("N", 5, 0, { N: "-1" })).toThrow("N=-1 is not a count");
});

test("the replay command names the file, through the lab runner for a lab file", () => {
  expect(replayCommand(7, "test/windows/fuzz.test.ts")).toBe("IOPERM_FUZZ_SEED=7 bun test test/windows/fuzz.test.ts");
  expect(replayCommand(7, "test/lab/wine-fuzz.lab.ts")).toBe("IOPERM_FUZZ_SEED=7 IOPERM_LAB_ONLY=wine-fuzz bun test test/vm-suite.test.ts");
});
