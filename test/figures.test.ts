// Every measured figure in README.md and docs/ is marked with its source
// (bench/figures.ts) and equals what that results file says.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DOCUMENTS, figure, figuresIn, loadSources, rewrite } from "../bench/figures.ts";
import type { RunResult } from "../bench/model.ts";
import { packageRoot } from "../lib/paths.ts";

const run = {
  cases: [
    { name: "0x80 r8 native-loop4096", path: "native-loop4096", p50_ns: 41.08, p99_ns: 67.48, ratio_to_floor: 1 },
    { name: "0x80 r8 ts", path: "ts", p50_ns: 118.7, p99_ns: 229.1, ratio_to_floor: 2.889 },
    { name: "0x80 r8 ts-batch64", path: "ts-batch64", p50_ns: 47.12, p99_ns: 94.65, ratio_to_floor: 1.147 },
    { name: "0x378 r8 ts-batch64", path: "ts-batch64", p50_ns: 39.9, p99_ns: 90, ratio_to_floor: 0.8797 },
    { name: "0x378 r8 driver-ts", path: "driver-ts", p50_ns: 885_800, p99_ns: 900_000, ratio_to_floor: 21_480 },
    {
      name: "lpt1 driver-handshake-ts",
      path: "driver-handshake-ts",
      p50_ns: 5e6,
      p99_ns: 6e6,
      ratio_to_floor: 5.5,
      native_calls_per_call: 6.25,
    },
  ],
  pulses: [
    {
      name: "pulse-native 100us",
      path: "pulse-native",
      asked_us: 100,
      sent: 1000,
      found: 1000,
      err_p50_us: 3,
      err_p99_us: 1234,
      err_min_us: -5,
    },
  ],
} as unknown as RunResult;
const sources = { lab: run, suite: { tests: 1234 } };

describe("figure", () => {
  test("a case's p50, p99 and ratio, formatted as the bench tables print them", () => {
    expect(figure(sources, "lab", "0x80 r8 ts", "p50")).toBe("119 ns");
    expect(figure(sources, "lab", "0x80 r8 ts", "p99")).toBe("229 ns");
    expect(figure(sources, "lab", "0x80 r8 ts", "ratio")).toBe("2.89×");
    expect(figure(sources, "lab", "0x378 r8 driver-ts", "p50")).toBe("886 µs");
    expect(figure(sources, "lab", "0x378 r8 driver-ts", "ratio")).toBe("21,500×");
  });
  test("a path's ratio range, and a suite count", () => {
    expect(figure(sources, "lab", "path=ts-batch64", "ratio-range")).toBe("0.880–1.15×");
    expect(figure(sources, "suite", "-", "tests")).toBe("1,234");
  });
  test("a pulse series' error percentiles, and a case's counted native calls", () => {
    expect(figure(sources, "lab", "pulse-native 100us", "err-p50")).toBe("+3.00 µs");
    expect(figure(sources, "lab", "pulse-native 100us", "err-p99")).toBe("+1,230 µs");
    expect(figure(sources, "lab", "pulse-native 100us", "err-min")).toBe("-5.00 µs");
    expect(figure(sources, "lab", "lpt1 driver-handshake-ts", "calls")).toBe("6.25");
    expect(() => figure(sources, "lab", "pulse-native 100us", "p50")).toThrow("unknown field p50 for pulse");
    expect(() => figure(sources, "lab", "0x80 r8 ts", "calls")).toThrow("no counted native calls");
  });
  test("an unknown case, field or source is an error naming it", () => {
    expect(() => figure(sources, "lab", "0x80 r8 nope", "p50")).toThrow('no case named "0x80 r8 nope"');
    expect(() => figure(sources, "lab", "0x80 r8 ts", "median")).toThrow("unknown field median");
    expect(() => figure(sources, "host", "x", "p50")).toThrow("no results file for source host");
  });
  test("rewrite puts each marked figure's source value in; figuresIn reports what a marker says against it", () => {
    const doc = "inb costs <!--fig lab|0x80 r8 ts|p50-->156 ns<!--/fig--> (<!--fig lab|0x80 r8 ts|ratio-->2.84×<!--/fig-->).";
    expect(figuresIn(doc, sources).map((f) => [f.says, f.source])).toEqual([
      ["156 ns", "119 ns"],
      ["2.84×", "2.89×"],
    ]);
    expect(rewrite(doc, sources)).toBe(
      "inb costs <!--fig lab|0x80 r8 ts|p50-->119 ns<!--/fig--> (<!--fig lab|0x80 r8 ts|ratio-->2.89×<!--/fig-->).",
    );
  });
});

test("every marked figure in README.md and docs/ equals its results file (fix: re-run the bench, then `bun bench/figures.ts`)", () => {
  const real = loadSources();
  const wrong = DOCUMENTS.filter((d) => existsSync(join(packageRoot, d))).flatMap((d) =>
    figuresIn(readFileSync(join(packageRoot, d), "utf8"), real)
      .filter((f) => f.says !== f.source)
      .map((f) => `${d}: ${f.spec} says ${f.says}, its source ${f.source}`),
  );
  expect(wrong).toEqual([]);
  const marked = DOCUMENTS.filter((d) => existsSync(join(packageRoot, d))).reduce(
    (n, d) => n + figuresIn(readFileSync(join(packageRoot, d), "utf8"), real).length,
    0,
  );
  expect(marked).toBeGreaterThan(10);
});
