/**
 * Measured figures in the docs, from one source. A figure in README.md or
 * docs/*.md is written between markers that say where it comes from:
 *
 *   <!--fig lab|0x378 r8 ppdev-ts|p50-->1.03 µs<!--/fig-->
 *
 * The source is a results file (bench/results/lab.json, host.json, or
 * test/results/suite.json for the suite's counts); the selector is a case name,
 * or `path=NAME` for every case of a path, or a pulse series' name; the field is
 * p50, p99, ratio or calls (native calls per call, counted) for a case,
 * ratio-range for a path, err-p50, err-p99 or err-min for a pulse series, or a key of suite.json. `bun bench/figures.ts`
 * rewrites every marked figure from its file; test/figures.test.ts fails when
 * one differs, so a figure cannot drift from the run that measured it.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../lib/paths.ts";
import type { RunResult } from "./model.ts";
import { formatErrorUs } from "./pulse.ts";
import { formatNs, formatRatio } from "./report.ts";

/** Where each source lives, relative to the package root. */
export const SOURCES: Record<string, string> = {
  lab: "bench/results/lab.json",
  host: "bench/results/host.json",
  suite: "test/results/suite.json",
};

/** The documents whose figures are checked. */
export const DOCUMENTS = [
  "README.md",
  "docs/api.md",
  "docs/benchmarks.md",
  "docs/controllers.md",
  "docs/lab.md",
  "docs/packaging.md",
  "docs/probe.md",
  "docs/security.md",
  "docs/tests.md",
  "docs/trace.md",
  "docs/windows.md",
];

const MARK = /<!--fig ([^|>]+)\|([^|>]+)\|([^|>]+)-->([^<]*)<!--\/fig-->/g;

type Loaded = Record<string, unknown>;

/** The text a marker must hold: its figure, formatted as the docs print it. */
export function figure(sources: Loaded, source: string, selector: string, field: string): string {
  const data = sources[source];
  if (data === undefined) throw new Error(`no results file for source ${source}`);
  if (source === "suite") {
    const v = (data as Record<string, unknown>)[field];
    if (typeof v !== "number") throw new Error(`suite.json has no count ${field}`);
    return v.toLocaleString("en-US");
  }
  const cases = (data as RunResult).cases;
  if (selector.startsWith("path=")) {
    const path = selector.slice(5);
    const ratios = cases.filter((c) => c.path === path).map((c) => c.ratio_to_floor ?? Number.NaN);
    if (ratios.length === 0 || field !== "ratio-range") throw new Error(`no ${field} for ${selector} in ${source}`);
    return `${formatRatio(Math.min(...ratios)).slice(0, -1)}–${formatRatio(Math.max(...ratios))}`;
  }
  const pulse = (data as RunResult).pulses?.find((x) => x.name === selector);
  if (pulse !== undefined) {
    if (field === "err-p50") return formatErrorUs(pulse.err_p50_us);
    if (field === "err-p99") return formatErrorUs(pulse.err_p99_us);
    if (field === "err-min") return formatErrorUs(pulse.err_min_us);
    throw new Error(`unknown field ${field} for pulse ${selector} (err-p50, err-p99, err-min)`);
  }
  const c = cases.find((x) => x.name === selector);
  if (c === undefined) throw new Error(`no case named "${selector}" in ${SOURCES[source]}`);
  if (field === "calls") {
    if (c.native_calls_per_call === undefined) throw new Error(`${selector} has no counted native calls`);
    return String(Number(c.native_calls_per_call.toPrecision(3)));
  }
  if (field === "p50") return formatNs(c.p50_ns);
  if (field === "p99") return formatNs(c.p99_ns);
  if (field === "ratio") return formatRatio(c.ratio_to_floor);
  throw new Error(`unknown field ${field} (p50, p99, ratio, ratio-range)`);
}

/** Every marked figure of a document: where it is, what it says, and what its source says. */
export function figuresIn(text: string, sources: Loaded): { spec: string; says: string; source: string }[] {
  return [...text.matchAll(MARK)].map((m) => {
    const [, src = "", sel = "", field = "", says = ""] = m;
    let truth: string;
    try {
      truth = figure(sources, src, sel, field);
    } catch (e) {
      truth = `(${(e as Error).message})`;
    }
    return { spec: `${src}|${sel}|${field}`, says, source: truth };
  });
}

/** The document with every marked figure rewritten from its source. */
export function rewrite(text: string, sources: Loaded): string {
  return text.replace(
    MARK,
    (_all, src: string, sel: string, field: string) => `<!--fig ${src}|${sel}|${field}-->${figure(sources, src, sel, field)}<!--/fig-->`,
  );
}

/** The results files, read from the package root. */
export function loadSources(root = packageRoot): Loaded {
  return Object.fromEntries(
    Object.entries(SOURCES)
      .filter(([, f]) => existsSync(join(root, f)))
      .map(([k, f]) => [k, JSON.parse(readFileSync(join(root, f), "utf8")) as unknown]),
  );
}

if (import.meta.main) {
  const sources = loadSources();
  for (const doc of DOCUMENTS) {
    const file = join(packageRoot, doc);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const next = rewrite(text, sources);
    if (next !== text) {
      writeFileSync(file, next);
      console.log(`figures: rewrote ${doc}`);
    }
  }
}
