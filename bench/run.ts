/**
 * Port-I/O microbenchmarks: every route to a port, timed in the same run.
 * This is the host-side command; each place a benchmark runs has its own entry:
 * bench/host-case.ts (one host case per fresh process), bench/guest.ts (inside
 * the lab VM), bench/wine-guest.ts (bun.exe under Wine in the VM).
 *
 *   bun run bench            host: the library's call path (no port permission needed)
 *   bun run bench --vm       lab: real accesses inside the QEMU lab VM (TCG)
 *   bun run bench --wine     the lab run plus ioperm.sys under Wine in the same VM
 *
 * Each prints a table and writes <kind>.json and <kind>.svg into bench/results/.
 * `bun bench/run.ts --help` for the options.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../lib/index.ts";
import { LAB_FILE } from "./guest.ts";
import { PULSE_FILE } from "./pulse-guest.ts";
import { parseParallelWrites, type PulseResult, type PulseSeries, pulseResult } from "./pulse.ts";
import { hostCases } from "./host.ts";
import { type CaseResult, type RunResult, addRatios, machineFacts } from "./model.ts";
import { parseBenchArgs, type Settings, say, settingsArgs } from "./options.ts";
import { publish } from "./publish.ts";
import { baseResult, pickRound, rebuiltNote } from "./runner.ts";
import { packageRoot as root } from "../lib/paths.ts";

const usage = `Usage: bun bench/run.ts [--vm] [--wine] [--quick] [--time MS] [--out DIR]

  (no mode)   host benchmark: bare bun:ffi call vs the TypeScript per-access path
  --vm        boot the lab VM and run the port benchmark there (bun run bench --vm)
  --wine      --vm plus the Windows driver: ioperm.sys under Wine in the same VM, driven by
              bun.exe through lib/ and ioperm.dll, beside the direct path (needs Wine; the
              host prepares the prefix with scripts/windows/lab-prefix.sh; ~35 s more)
  --quick     ~20 ms per case, written to a new private temp dir unless --out is given (smoke test)
  --time MS   measured time per case (default 500)
  --rounds N  measure every case N times, round-robin, (host: one process each, keep the fastest; default 7 host, 1 lab)
  --out DIR   where <kind>.json and <kind>.svg go (default bench/results)
  --render F  re-render the table and chart of a result JSON (e.g. after changing the chart)
`;

/**
 * Each host case runs in a fresh process: the TS path's call site must see one
 * callee, as in a real program, not every symbol the other cases swapped in.
 * Rounds alternate the processes, and each case keeps its fastest (see pickRound).
 */
async function host(settings: Settings): Promise<RunResult> {
  using io = open();
  const { cases, skipped } = hostCases(io);
  const { rounds, minTimeMs } = settings;
  say(`host: ${cases.length} cases × ${rounds} rounds, ${minTimeMs} ms each, one process per case`);
  const byName = new Map<string, CaseResult[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const spec of cases) {
      const child = Bun.spawnSync({
        cmd: [process.execPath, join(import.meta.dir, "host-case.ts"), "--case", spec.name, "--time", String(minTimeMs)],
        stdout: "pipe",
        stderr: "inherit",
      });
      if (child.exitCode !== 0) throw new Error(`host case ${spec.name} exited ${child.exitCode}`);
      const r = JSON.parse(child.stdout.toString()) as CaseResult;
      byName.set(spec.name, [...(byName.get(spec.name) ?? []), r]);
    }
  }
  const results = [...byName.values()].map((all) => pickRound(all, "fastest"));
  addRatios(results);
  return {
    ...baseResult("host", "bun run bench", settings),
    cases: results,
    skipped,
    notes: [
      ...rebuiltNote(),
      "The host cannot grant ports, so ts-api and ts-port8 point the handle's ioperm_outb at ioperm_nop " +
        "(same signature, empty body) for their run: every TypeScript step of a granted write, no instruction.",
      "ts-traced is ts-api with a port trace on (open({ trace })), written to /dev/null, 4096 accesses per iteration: " +
        "each access's clock read and record, plus the block of 4096 formatted as JSON lines and written, without a disk's speed.",
      "Floor: ffi-nop, the bare bun:ffi call of the same signature.",
      `Each case ran in ${rounds} fresh processes and reports its fastest: a process's JIT code lands in one of two ` +
        "speed modes about 2.5 ns apart, for the bare call and the TS path alike. p50_rounds_ns has every process's p50.",
    ],
  };
}

async function vm(settings: Settings, wine: boolean): Promise<RunResult> {
  const { runLab } = await import("../lib/lab/index.ts");
  if (wine) {
    say("host: preparing the lab's Wine prefix (scripts/windows/lab-prefix.sh)");
    const prep = Bun.spawnSync(["sh", join(root, "scripts/windows/lab-prefix.sh")], { cwd: root, stdout: "inherit", stderr: "inherit" });
    if (prep.exitCode !== 0) throw new Error(`scripts/windows/lab-prefix.sh exited ${prep.exitCode}`);
  }
  const command = ["bun", "bench/guest.ts", ...settingsArgs(settings), ...(wine ? ["--wine"] : [])];
  const r = await runLab({ command, onOutput: (t) => process.stderr.write(t), timeoutMs: 30 * 60_000 });
  if (r.exitCode !== 0) throw new Error(`the lab benchmark exited ${r.exitCode}; see ${r.runDir}/console.log`);
  const run = JSON.parse(readFileSync(join(r.runDir, LAB_FILE), "utf8")) as RunResult;
  run.machine.virtualization = `qemu-${r.accel}`;
  run.machine.host = machineFacts(false);
  run.command = `bun run bench --vm${wine ? " --wine" : ""}${settings.quick ? " --quick" : ""}`;
  run.pulses = await pulses(settings);
  run.notes.push(
    "pulse-*: LPT1 data-line pulses, 1000 per series (20 with --quick), sent in a second VM of this run whose QEMU traces every " +
      "parallel-port write (parallel_ioport_write, host timestamps in µs); the trace would slow every other LPT1 write case, so " +
      "those run untraced. A pulse's width is the time between QEMU's handling of its two writes on the host's clock, not the " +
      "guest's; error = width - asked. pulse-native is ops.pulse in one prepared batch; pulse-ts is outb, a busy-wait on " +
      "Bun.nanoseconds(), outb, as examples/trigger-pulse.ts does.",
  );
  return run;
}

/**
 * Pulse-width accuracy: a VM of its own with QEMU tracing parallel-port writes;
 * the guest sends the pulses (bench/pulse-guest.ts), the host measures them from the trace.
 */
async function pulses(settings: Settings): Promise<PulseResult[]> {
  const { runLab } = await import("../lib/lab/index.ts");
  const count = settings.quick ? 20 : 1000;
  say(`host: a second lab VM for the pulse widths (${count} per series), QEMU tracing parallel_ioport_write`);
  const r = await runLab({
    command: ["bun", "bench/pulse-guest.ts", "--count", String(count)],
    qemuTrace: ["parallel_ioport_write"],
    onOutput: (t) => process.stderr.write(t),
    timeoutMs: 10 * 60_000,
  });
  if (r.exitCode !== 0) throw new Error(`the lab pulse benchmark exited ${r.exitCode}; see ${r.runDir}/console.log`);
  if (r.files.qemuTrace === undefined) throw new Error("the lab run recorded no QEMU trace");
  const series = JSON.parse(readFileSync(join(r.runDir, PULSE_FILE), "utf8")) as PulseSeries[];
  const writes = parseParallelWrites(readFileSync(r.files.qemuTrace, "utf8"));
  const results = series.map((s) => pulseResult(s, writes));
  for (const p of results) {
    if (p.found !== p.sent) throw new Error(`${p.name}: ${p.sent} pulses sent, ${p.found} found in ${r.files.qemuTrace}`);
  }
  return results;
}

const { settings, values } = parseBenchArgs(
  Bun.argv.slice(2),
  {
    vm: { type: "boolean", default: false },
    wine: { type: "boolean", default: false },
    out: { type: "string" },
    render: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  (quick) => (quick || Bun.argv.includes("--vm") || Bun.argv.includes("--wine") ? 1 : 7),
);
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
// A quick run's results go to a new private directory (mkdtemp, mode 0700): a fixed name in the shared
// temp dir could be another user's directory or a symlink they planted.
const outDir =
  (values.out as string | undefined) ?? (settings.quick ? mkdtempSync(join(tmpdir(), "ioperm-bench-")) : join(root, "bench", "results"));
if (values.render !== undefined) {
  publish(JSON.parse(readFileSync(values.render as string, "utf8")) as RunResult, outDir);
} else if (values.vm || values.wine) {
  publish(await vm(settings, values.wine === true), outDir);
} else {
  if (settings.quick) say(`quick run: results go to ${outDir}`);
  publish(await host(settings), outDir);
}
