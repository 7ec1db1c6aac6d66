/**
 * One host benchmark case, in a fresh process (bench/run.ts starts one per case
 * and round): prints its CaseResult as JSON.
 *
 *   bun bench/host-case.ts --case NAME [--time MS]
 */
import { open } from "../lib/index.ts";
import { hostCases } from "./host.ts";
import { parseBenchArgs } from "./options.ts";
import { runCases, type Skipped } from "./runner.ts";

const { settings, values } = parseBenchArgs(Bun.argv.slice(2), { case: { type: "string" } }, () => 1);
const name = values.case as string | undefined;
if (name === undefined) throw new Error("bench/host-case.ts wants --case NAME (bench/run.ts starts it)");
using io = open();
const spec = hostCases(io).cases.find((c) => c.name === name);
if (!spec) throw new Error(`no host case named ${name}`);
const skipped: Skipped = [];
const [r] = await runCases(settings, [spec], skipped);
if (!r) throw new Error(`host case ${name} failed: ${skipped[0]?.reason ?? "?"}`);
process.stdout.write(`${JSON.stringify(r)}\n`);
