// Boots the lab VM and runs every test/lab/*.lab.ts inside it as root against
// QEMU's devices, reporting each guest test here as a host test. Files that need
// extra devices say so in `// @lab-device <qemu -device spec>` lines; files with
// the same devices share one VM. A VM that does not boot, or a run that reports
// nothing, fails loudly.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runLab } from "../scripts/lab/vm.ts";
import { type CaseResult, parseJunit } from "./junit.ts";

const dir = join(import.meta.dir, "lab");
const groups = new Map<string, string[]>();
for (const f of readdirSync(dir).filter((f) => f.endsWith(".lab.ts")).sort()) {
  const devices = [...readFileSync(join(dir, f), "utf8").matchAll(/^\/\/ @lab-device (\S+)$/gm)].map((m) => m[1] ?? "");
  const key = JSON.stringify(devices);
  groups.set(key, [...(groups.get(key) ?? []), `./test/lab/${f}`]);
}

interface GroupRun {
  devices: string[];
  results: CaseResult[];
  failure: string;
  output: string;
}

async function runGroup(devices: string[], files: string[]): Promise<GroupRun> {
  const chunks: string[] = [];
  try {
    const lab = await runLab({
      command: ["sh", "-c", 'exec bun test --reporter=junit --reporter-outfile="$IOPERM_LAB_RUN/junit.xml" "$@"', "sh", ...files],
      devices,
      onOutput: (t) => chunks.push(t),
    });
    const xml = join(lab.runDir, "junit.xml");
    const results = existsSync(xml) ? parseJunit(readFileSync(xml, "utf8")) : [];
    const failure = results.length === 0 ? `the lab run (exit ${lab.exitCode}) reported no tests` : "";
    return { devices, results, failure, output: chunks.join("") };
  } catch (e) {
    return { devices, results: [], failure: `the lab VM did not run: ${(e as Error).message}`, output: chunks.join("") };
  }
}

// One VM per device set, two at a time (the machine has two cores).
const entries = [...groups.entries()].map(([key, files]) => ({ devices: JSON.parse(key) as string[], files }));
const runs: GroupRun[] = [];
for (let i = 0; i < entries.length; i += 2) {
  runs.push(...(await Promise.all(entries.slice(i, i + 2).map((g) => runGroup(g.devices, g.files)))));
}

for (const run of runs) {
  const label = run.devices.length ? `lab VM + ${run.devices.join(" + ")}` : "lab VM";
  describe(label, () => {
    test("boots and runs the guest suite", () => {
      if (run.failure) console.error(run.output.slice(-4000));
      expect(run.failure).toBe("");
    });
    for (const r of run.results) {
      const t = r.status === "skip" ? test.skip : test;
      t(`${r.file.replace(/^.*\//, "")} > ${r.name}`, () => {
        if (r.status === "fail") throw new Error(`failed in the lab VM:\n${r.message}`);
      });
    }
  });
}
