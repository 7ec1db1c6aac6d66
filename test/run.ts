// The test command's last step (npm test): `bun test` with a JUnit report, then
// the skip review. A skip is a decision written down in test/skips.json with its
// reason; any other skip (a missing Wine, bun.exe or root, a guest test skipped
// in the lab VM) fails the run. The summary line names every skip that ran.
// A full run (no arguments) is also held to the counts recorded in
// test/results/suite.json: fewer tests passed, fewer lab tests or files, or
// smaller fuzz counts fail it. `--record` writes this run's counts there (and
// `bun bench/figures.ts` carries them into the docs).
//   bun test/run.ts [--record] [bun test arguments…]
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../lib/paths.ts";
import { fullName, parseJunit } from "./junit.ts";
import { reviewSkips, type SkipEntry } from "./skips.ts";
import { countSuite, shortfall, type SuiteCounts } from "./suite.ts";

const record = process.argv.includes("--record");
const args = process.argv.slice(2).filter((a) => a !== "--record");
const fullRun = args.length === 0;

const dir = mkdtempSync(join(tmpdir(), "ioperm-test-"));
const report = join(dir, "junit.xml");
const proc = Bun.spawn([process.execPath, "test", "--reporter=junit", `--reporter-outfile=${report}`, ...args], {
  cwd: packageRoot,
  stdio: ["inherit", "inherit", "inherit"],
});
const code = await proc.exited;
let results: ReturnType<typeof parseJunit> = [];
try {
  results = parseJunit(readFileSync(report, "utf8"));
} catch (e) {
  console.error(`test/run.ts: bun test wrote no JUnit report (${(e as Error).message})`);
}
rmSync(dir, { recursive: true, force: true });

const list = (JSON.parse(readFileSync(join(import.meta.dir, "skips.json"), "utf8")) as { skips: SkipEntry[] }).skips;
const review = reviewSkips(results.filter((r) => r.status === "skip").map(fullName), list);
for (const s of review.reviewed) console.log(`skip (reviewed): ${s.test}\n  reason: ${s.reason}`);
for (const s of review.unreviewed) console.error(`skip NOT on test/skips.json: ${s}`);
for (const s of review.badEntries) console.error(`test/skips.json: ${s}`);
console.log(
  `skips: ${review.reviewed.length} reviewed, ${review.unreviewed.length} not reviewed${review.reviewed.length ? ` (${review.reviewed.map((s) => s.test.replace(/ > .*/, "")).join(", ")})` : ""}`,
);
if (code === 0 && results.length === 0) {
  console.error("test/run.ts: no test ran");
  process.exit(1);
}

const suiteFile = join(import.meta.dir, "results", "suite.json");
const counts = countSuite(results);
let less: string[] = [];
if (fullRun) {
  console.log(
    `suite: ${counts.tests} tests (${counts.labTests} in the lab VM), ${counts.skipped} skipped, ${counts.hostFiles} host files, ${counts.labFiles} lab files`,
  );
  if (record) {
    mkdirSync(join(import.meta.dir, "results"), { recursive: true });
    writeFileSync(suiteFile, `${JSON.stringify(counts, null, 2)}\n`);
    console.log("suite: recorded in test/results/suite.json (run `bun bench/figures.ts` to carry the counts into the docs)");
  } else if (existsSync(suiteFile)) {
    less = shortfall(counts, JSON.parse(readFileSync(suiteFile, "utf8")) as SuiteCounts);
    for (const l of less) console.error(`suite ran less than recorded: ${l}`);
  }
}
process.exit(code !== 0 ? code : review.unreviewed.length || review.badEntries.length || less.length ? 1 : 0);
