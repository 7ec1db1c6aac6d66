// Boots the lab VM and runs every test/lab/*.lab.ts inside it as root against
// QEMU's devices, reporting each guest test here as a host test. Files that need
// extra devices say so in `// @lab-device <qemu -device spec>` lines, and a named
// machine (lib/lab/machine.ts) in `// @lab-machine <name>`; files with the same
// devices and machine share one VM. A file that needs the host to set something up
// first (e.g. a Wine prefix, slow to make under TCG) says so in
// `// @lab-host-prepare <shell command>`, run here in the project root before its
// VM boots; such files get their own VM, and so does a file marked
// `// @lab-own-vm` (it changes the guest for good). A VM that does not boot, a preparation
// that fails, or a run that reports nothing, fails loudly.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { type MachineName, runLab } from "../lib/lab/index.ts";
import { type CaseResult, declarationSites, fullName, parseJunit, verdict } from "./junit.ts";
import { packageRoot as root } from "../lib/paths.ts";

const dir = join(import.meta.dir, "lab");
/** Files under test/lab/ that are imported by lab tests, not run: anything else that is not a *.lab.ts is an error. */
const labHelpers = new Set(["probe-lib.ts", "wine-guest.ts", "witness.ts"]);
const groups = new Map<string, string[]>();
/** Where each lab file declares tests (see declarationSites): every site must report at least one test. */
const declared = new Map<string, number[]>();
/** IOPERM_LAB_ONLY=uart,wine runs only the lab files whose names contain one of these words (for development; .ci/run unsets it). */
const only = process.env.IOPERM_LAB_ONLY?.split(",").filter(Boolean);
const allFiles = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => statSync(join(dir, f)).isFile()).sort();
/** Files discovery would drop silently: a lab test misnamed, or a helper nobody listed. */
const strays = allFiles.filter((f) => !f.endsWith(".lab.ts") && !labHelpers.has(f));
const labFiles = allFiles.filter((f) => f.endsWith(".lab.ts")).filter((f) => !only || only.some((w) => f.includes(w)));
for (const f of labFiles) {
  const text = readFileSync(join(dir, f), "utf8");
  const devices = [...text.matchAll(/^\/\/ @lab-device (\S+)$/gm)].map((m) => m[1] ?? "");
  const machine = /^\/\/ @lab-machine (\S+)$/m.exec(text)?.[1];
  const prepare = [...text.matchAll(/^\/\/ @lab-host-prepare (.+)$/gm)].map((m) => m[1] ?? "");
  // `// @lab-qemu ARG…`: extra QEMU arguments (e.g. -fw_cfg name=opt/x,string=y), split at spaces.
  const qemu = [...text.matchAll(/^\/\/ @lab-qemu (.+)$/gm)].flatMap((m) => (m[1] ?? "").split(" "));
  // `// @lab-pcspk`: record the PC speaker to the run dir's pcspk.wav.
  if (/^\/\/ @lab-pcspk$/m.test(text)) qemu.push("@pcspk");
  // `// @lab-qemu-trace EVENT`: QEMU records the trace event to the run dir's qemu-trace.log (files.json: qemuTrace).
  for (const m of text.matchAll(/^\/\/ @lab-qemu-trace (\S+)$/gm)) qemu.push(`@trace:${m[1] ?? ""}`);
  declared.set(`./test/lab/${f}`, declarationSites(text));
  // `// @lab-own-vm`: a file that changes the guest for good (kernel lockdown) gets a VM of its own.
  const own = /^\/\/ @lab-own-vm$/m.test(text) ? f : undefined;
  const key = JSON.stringify({ devices, qemu, prepare, own, machine });
  groups.set(key, [...(groups.get(key) ?? []), `./test/lab/${f}`]);
}

test("every file under test/lab/ is a lab test (*.lab.ts) or a listed helper", () => {
  expect(strays).toEqual([]);
});

interface GroupRun {
  devices: string[];
  machine?: string;
  files: string[];
  own?: string;
  prepare: string[];
  results: CaseResult[];
  failure: string;
  output: string;
}

/**
 * Runs a group's host-side preparation; its failure message, or "". Output goes
 * to a file, not a pipe: a background process it starts (Wine's) may keep its
 * stdout open long after it exits.
 */
/** The preparation under way, if any: host preparations run one after another. */
let preparing: Promise<unknown> = Promise.resolve();

async function prepareHost(commands: string[]): Promise<string> {
  for (const command of commands) {
    const log = join(root, ".cache", "lab", `prepare-${process.pid}-${Bun.hash(command).toString(16)}.log`);
    mkdirSync(dirname(log), { recursive: true });
    const proc = Bun.spawn(["sh", "-c", 'exec >"$1" 2>&1; eval "$2"', "sh", log, command], {
      cwd: root,
      // The pinned Bun first on PATH: the commands say `bun`, however the tests were started.
      env: { ...process.env, PATH: `${join(root, ".cache", "bin")}:${process.env.PATH ?? ""}` },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 15 * 60_000);
    const code = await proc.exited;
    clearTimeout(timer);
    const output = existsSync(log) ? readFileSync(log, "utf8") : "";
    rmSync(log, { force: true });
    if (code !== 0) return `host preparation \`${command}\` exited ${code}:\n${output.slice(-4000)}`;
  }
  return "";
}

async function runGroup(
  devices: string[],
  prepare: string[],
  files: string[],
  own?: string,
  qemuArgs: string[] = [],
  machine?: string,
): Promise<GroupRun> {
  const chunks: string[] = [];
  try {
    // One preparation at a time: two groups that share one (a Wine prefix) may start together.
    const mine = preparing.then(() => prepareHost(prepare));
    preparing = mine.then(
      () => undefined,
      () => undefined,
    );
    const unprepared = await mine;
    if (unprepared) return { devices, machine, files, own, prepare, results: [], failure: unprepared, output: "" };
    // --timeout: guest tests start processes under TCG, and on a busy host that can pass bun's 5 s default.
    const lab = await runLab({
      cwd: root,
      command: [
        "sh",
        "-c",
        'exec bun test --timeout=60000 --reporter=junit --reporter-outfile="$IOPERM_LAB_RUN/junit.xml" "$@"',
        "sh",
        ...files,
      ],
      devices,
      machine: machine as MachineName | undefined,
      // The guest starts with an empty environment: pass what decides which seeds the fuzz runs (test/fuzz.ts).
      env: Object.fromEntries(
        ["CI", "IOPERM_FUZZ_SEED"].flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k] as string]])),
      ),
      qemuArgs: qemuArgs.filter((a) => a !== "@pcspk" && !a.startsWith("@trace:")),
      pcspk: qemuArgs.includes("@pcspk"),
      qemuTrace: qemuArgs.filter((a) => a.startsWith("@trace:")).map((a) => a.slice("@trace:".length)),
      onOutput: (t) => chunks.push(t),
      onError: (t) => chunks.push(t),
    });
    const xml = join(lab.runDir, "junit.xml");
    const results = existsSync(xml) ? parseJunit(readFileSync(xml, "utf8")) : [];
    const expected = files.map((file) => ({ file, sites: declared.get(file) ?? [] }));
    return { devices, machine, files, own, prepare, results, failure: verdict(lab.exitCode, expected, results), output: chunks.join("") };
  } catch (e) {
    return {
      devices,
      machine,
      files,
      own,
      prepare,
      results: [],
      failure: `the lab VM did not run: ${(e as Error).message}`,
      output: chunks.join(""),
    };
  }
}

// One VM per device set, two at a time (the machine has two cores).
const entries = [...groups.entries()].map(([key, files]) => ({
  ...(JSON.parse(key) as { devices: string[]; qemu: string[]; prepare: string[]; own?: string; machine?: string }),
  files,
}));
const runs: GroupRun[] = [];
for (let i = 0; i < entries.length; i += 2) {
  runs.push(...(await Promise.all(entries.slice(i, i + 2).map((g) => runGroup(g.devices, g.prepare, g.files, g.own, g.qemu, g.machine)))));
}

// One line for .ci/run, which fails when the lab reported fewer tests than its files declare.
const reported = runs.reduce((n, r) => n + r.results.length, 0);
const expectedTotal = entries.reduce((n, g) => n + g.files.reduce((m, f) => m + Math.max(1, declared.get(f)?.length ?? 0), 0), 0);
console.log(`vm-suite: ${reported} tests reported, ${expectedTotal} declared in ${labFiles.length} files`);

for (const run of runs) {
  const vm = run.machine ? `lab VM (--machine ${run.machine})` : "lab VM";
  const base = run.devices.length ? `${vm} + ${run.devices.join(" + ")}` : run.own ? `${vm} of its own (${run.own})` : vm;
  const label = [base, ...run.prepare.map((p) => `after \`${p}\``)].join(", ");
  describe(label, () => {
    test("boots and runs the guest suite", () => {
      if (run.failure) console.error(run.output.slice(-4000));
      expect(run.failure).toBe("");
    });
    for (const r of run.results) {
      const t = r.status === "skip" ? test.skip : test;
      t(fullName(r).replace(/^test\/lab\//, ""), () => {
        if (r.status === "fail") throw new Error(`failed in the lab VM:\n${r.message}`);
      });
    }
  });
}
