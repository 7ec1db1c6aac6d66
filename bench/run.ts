/**
 * Port-I/O microbenchmarks: every route to a port, timed in the same run.
 *
 *   bun run bench            host: the library's call path (no port permission needed)
 *   bun run bench --vm       lab: real accesses inside the QEMU lab VM (TCG)
 *   bun run bench --wine     the lab run plus ioperm.sys under Wine in the same VM
 *
 * Each prints a table and writes <kind>.json and <kind>.svg into bench/results/.
 * `bun bench/run.ts --help` for the options.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { libraryPath, open } from "../lib/index.ts";
import { type HostCase, hostCases } from "./host.ts";
import { commandCases, DRIVER_GRANTS, devportCases, directCases, driverCases, grantTargets, openDevport } from "./lab.ts";
import { time } from "./measure.ts";
import { type CaseResult, type CaseSpec, type RunResult, SCHEMA, addRatios, caseResult, machineFacts } from "./model.ts";
import { chartGroups, formatNs, header, legend, svgChart, table } from "./report.ts";

const usage = `Usage: bun bench/run.ts [--vm] [--wine] [--quick] [--time MS] [--out DIR]

  (no mode)   host benchmark: bare bun:ffi call vs the TypeScript per-access path
  --vm        boot the lab VM and run the port benchmark there (bun run bench --vm)
  --wine      --vm plus the Windows driver: ioperm.sys under Wine in the same VM, driven by
              bun.exe through lib/ and ioperm.dll, beside the direct path (needs Wine; the
              host prepares the prefix with scripts/windows/lab-prefix.sh; ~35 s more)
  --quick     ~20 ms per case, written to a temp dir unless --out is given (smoke test)
  --time MS   measured time per case (default 500)
  --rounds N  measure every case N times, round-robin, (host: one process each, keep the fastest; default 7 host, 1 lab)
  --out DIR   where <kind>.json and <kind>.svg go (default bench/results)
  --render F  re-render the table and chart of a result JSON (e.g. after changing the chart)
  --lab       (inside the lab VM; --vm passes it) measure and write JSON to $IOPERM_LAB_RUN
  --case NAME (internal) time one host case in this process and print its JSON
  --wine-guest FILE  (internal, bun.exe under Wine in the lab VM) time the driver cases into FILE
`;

const root = join(import.meta.dir, "..");
const mitataVersion = (JSON.parse(readFileSync(join(root, "node_modules/mitata/package.json"), "utf8")) as { version: string })
  .version;
const TARGET_SAMPLE_NS = 50_000;
const LAB_FILE = "bench-lab.json";

const { values: args } = parseArgs({
  options: {
    vm: { type: "boolean", default: false },
    wine: { type: "boolean", default: false },
    "wine-guest": { type: "string" },
    lab: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    time: { type: "string" },
    rounds: { type: "string" },
    case: { type: "string" },
    out: { type: "string" },
    render: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});
if (args.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const minTimeMs = args.time !== undefined ? Number(args.time) : args.quick ? 20 : 500;
if (!Number.isFinite(minTimeMs) || minTimeMs <= 0) throw new RangeError(`--time wants a positive number of ms, got ${args.time}`);
const rounds = args.rounds !== undefined ? Number(args.rounds) : args.lab || args.vm || args.wine || args.quick ? 1 : 7;
if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`--rounds wants a positive integer, got ${args.rounds}`);
const outDir = args.out ?? (args.quick ? join(tmpdir(), "ioperm-bench") : join(root, "bench", "results"));

const say = (s: string) => process.stderr.write(`${s}\n`);

/** Times each case in order; a case whose first call throws is skipped with the reason. */
async function runCases(
  specs: readonly (CaseSpec & Pick<HostCase, "setup">)[],
  skipped: { name: string; reason: string }[],
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
function pickRound(all: CaseResult[], how: "median" | "fastest"): CaseResult {
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
function rebuiltNote(): string[] {
  const now = libraryHash();
  return now === libraryAtStart ? [] : [`WARNING: ${libraryPath()} changed during the run (${libraryAtStart} -> ${now}); rerun.`];
}

function baseResult(kind: "host" | "lab", command: string): Omit<RunResult, "cases" | "skipped" | "notes"> {
  return {
    schema: SCHEMA,
    kind,
    command,
    date: new Date().toISOString(),
    quick: args.quick,
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

/**
 * Each host case runs in a fresh process: the TS path's call site must see one
 * callee, as in a real program, not every symbol the other cases swapped in.
 * Rounds alternate the processes, and each case keeps its fastest (see pickRound).
 */
async function host(): Promise<RunResult> {
  using io = open();
  const { cases, skipped } = hostCases(io);
  say(`host: ${cases.length} cases × ${rounds} rounds, ${minTimeMs} ms each, one process per case`);
  const byName = new Map<string, CaseResult[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const spec of cases) {
      const child = Bun.spawnSync({
        cmd: [process.execPath, join(import.meta.dir, "run.ts"), "--case", spec.name, "--time", String(minTimeMs), "--rounds", "1"],
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
    ...baseResult("host", "bun run bench"),
    cases: results,
    skipped,
    notes: [
      ...rebuiltNote(),
      "The host cannot grant ports, so ts-api and ts-port8 point the handle's ioperm_outb at ioperm_nop " +
        "(same signature, empty body) for their run: every TypeScript step of a granted write, no instruction.",
      "Floor: ffi-nop, the bare bun:ffi call of the same signature.",
      `Each case ran in ${rounds} fresh processes and reports its fastest: a process's JIT code lands in one of two ` +
        "speed modes about 2.5 ns apart, for the bare call and the TS path alike. p50_rounds_ns has every process's p50.",
    ],
  };
}

/** One host case, in this (fresh) process; prints its CaseResult as JSON. */
async function hostCase(name: string): Promise<void> {
  using io = open();
  const spec = hostCases(io).cases.find((c) => c.name === name);
  if (!spec) throw new Error(`no host case named ${name}`);
  const skipped: { name: string; reason: string }[] = [];
  const [r] = await runCases([spec], skipped);
  if (!r) throw new Error(`host case ${name} failed: ${skipped[0]?.reason ?? "?"}`);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

/** Inside the VM: direct backend, then /dev/port, then a process per access. */
async function lab(): Promise<RunResult> {
  const skipped: { name: string; reason: string }[] = [];
  const results: CaseResult[] = [];
  {
    using io = open({ backend: "direct" });
    grantTargets(io, true);
    const specs = directCases(io);
    say(`lab: direct backend, ${specs.length} cases, ${minTimeMs} ms each`);
    results.push(...(await runCases(specs, skipped)));
  }
  {
    // A thread keeps one backend until it releases everything; the handle above did.
    using io = open({ backend: "devport" });
    grantTargets(io, false);
    const dev = openDevport();
    try {
      const specs = devportCases(io, dev.fd);
      say(`lab: /dev/port, ${specs.length} cases`);
      results.push(...(await runCases(specs, skipped)));
    } finally {
      dev.close();
    }
  }
  if (Bun.which("inb") === null) {
    skipped.push({ name: "ioport-cmd", reason: "Debian's ioport tools (inb/outb) are not installed" });
  } else {
    const specs = commandCases();
    say(`lab: a process per access, ${specs.length} cases`);
    results.push(...(await runCases(specs, skipped)));
  }
  if (args.wine) results.push(...(await wineCases(skipped)));
  addRatios(results);
  return {
    ...baseResult("lab", "bun run bench --vm"),
    cases: results,
    skipped,
    notes: [
      ...rebuiltNote(),
      "The lab is QEMU with TCG (software emulation): guest code is translated, and every in/out leaves the " +
        "translated code for QEMU's device emulation. Absolute times are those of that emulated PC, far from " +
        "real hardware; the ratios between paths measured in this same run are the result.",
      "Floor: native-loop4096, single in (ioperm_bench_in) or out (ioperm_bench_out) in a Zig loop inside one call.",
      "/dev/port paths are 8-bit only; devport-pread-range reads the device's register block (consecutive ports) in one pread.",
      "PCI 0xCFC is read only: a write lands in whatever register 0xCF8 selects, and the kernel owns 0xCF8.",
      ...(args.wine
        ? [
            "driver-* paths: bun.exe (Bun for Windows) under Wine 8 in this same VM, lib/ -> ioperm.dll -> DeviceIoControl " +
              "-> ioperm.sys in winedevice.exe, which runs the in/out (Wine started under ioperm-with-iopl, so it holds " +
              "iopl(3)). Each single access is one IOCTL; batch64/string64 are one IOCTL per 64 accesses. Under Wine an " +
              "IOCTL is a round trip client -> wineserver -> winedevice -> wineserver -> client (processes on one " +
              "emulated CPU), so these figures are Wine's IPC far more than the driver; on Windows the round trip is a " +
              "system call. × floor divides by the direct path's native-loop4096 for the same access, measured here.",
          ]
        : []),
    ],
  };
}

/**
 * Inside the VM: boots a Wine session holding iopl(3) and runs this file in
 * bun.exe with --wine-guest, which times the driver cases. Returns them, or
 * records why not in `skipped`.
 */
async function wineCases(skipped: { name: string; reason: string }[]): Promise<CaseResult[]> {
  const { labWine, WineSession, winPath, wineDir } = await import("../scripts/windows/lab-wine.ts");
  const info = labWine();
  if (typeof info === "string" || info.bunExe === null) {
    skipped.push({ name: "driver-*", reason: typeof info === "string" ? info : "no bun.exe (scripts/windows/bun-windows.sh failed on the host)" });
    return [];
  }
  const session = new WineSession(info);
  try {
    say(`lab: Wine session up, driver answering, after ${(session.start() / 1000).toFixed(1)} s`);
    const file = join(wineDir(), "bench-driver.json");
    const t0 = performance.now();
    const r = session.run(info.bunExe, [
      winPath(join(import.meta.dir, "run.ts")),
      "--wine-guest",
      winPath(file),
      "--time",
      String(minTimeMs),
      "--rounds",
      String(rounds),
      ...(args.quick ? ["--quick"] : []),
    ]);
    say(r.lines.filter((l) => !l.startsWith("Internal error")).join("\n"));
    if (r.code !== 0 || !existsSync(file)) {
      skipped.push({ name: "driver-*", reason: `bun.exe under Wine exited ${r.code}; see ${r.log}` });
      return [];
    }
    say(`lab: driver cases took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const got = JSON.parse(readFileSync(file, "utf8")) as { cases: CaseResult[]; skipped: { name: string; reason: string }[] };
    skipped.push(...got.skipped);
    return got.cases;
  } catch (e) {
    skipped.push({ name: "driver-*", reason: (e as Error).message });
    return [];
  } finally {
    session.stop();
  }
}

/** In bun.exe under Wine (lab VM): the driver cases, written as JSON to `file`. */
async function wineGuest(file: string): Promise<void> {
  const skipped: { name: string; reason: string }[] = [];
  using io = open({ backend: "driver" });
  for (const g of DRIVER_GRANTS) io.grant(g.from, g.count);
  const specs = driverCases(io);
  say(`wine: driver backend, ${specs.length} cases, ${minTimeMs} ms each`);
  const cases = await runCases(specs, skipped);
  writeFileSync(file, `${JSON.stringify({ cases, skipped })}\n`);
}

/** Which (port, width, op) groups the lab chart shows: every path on the commonest accesses. */
const LAB_CHART = [
  { port: 0x80, width: 8, op: "read", title: "POST port 0x80, 8-bit read" },
  { port: 0x80, width: 8, op: "write", title: "POST port 0x80, 8-bit write" },
  { port: 0x378, width: 8, op: "read", title: "LPT1 data 0x378, 8-bit read" },
  { port: 0xcfc, width: 32, op: "read", title: "PCI config data 0xCFC, 32-bit read" },
];

function publish(run: RunResult): void {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, `${run.kind}.json`);
  const svg = join(outDir, `${run.kind}.svg`);
  // One case per line, four significant digits: small files, small diffs when re-committed.
  const round = (v: number) => (Number.isInteger(v) ? v : Number(v.toPrecision(4)));
  const cases = run.cases.map((c) =>
    Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === "number" ? round(v) : Array.isArray(v) ? v.map(round) : v])),
  );
  const { cases: _, ...rest } = run;
  const body = JSON.stringify({ ...rest, cases: [] }, null, 2).replace(
    '"cases": []',
    `"cases": [\n${cases.map((c) => `    ${JSON.stringify(c)}`).join(",\n")}\n  ]`,
  );
  writeFileSync(json, `${body}\n`);
  const groups =
    run.kind === "host"
      ? [{ title: "Port 0x80, 8-bit write, no instruction (the host cannot grant ports)", cases: [...run.cases].sort((a, b) => a.p50_ns - b.p50_ns) }]
      : chartGroups(run.cases, LAB_CHART);
  const title = run.kind === "host" ? "ioperm call path on the host" : "ioperm: latency per port access, every path (lab VM)";
  const m = run.machine;
  const subtitle = `${m.cpu}, ${m.virtualization === "none" ? "bare metal" : m.virtualization}, Bun ${run.bun.version}, ${run.date.slice(0, 10)} — ${run.command}`;
  writeFileSync(svg, svgChart(title, subtitle, groups));
  print(run);
  const shown = (p: string) => (p.startsWith(root) ? relative(root, p) : p);
  say(`\nwrote ${shown(json)} and ${shown(svg)}`);
}

function print(run: RunResult): void {
  const lines = [header(run), "", table(run.cases), "", legend(run.cases)];
  if (run.skipped.length > 0) lines.push("", "Skipped:", ...run.skipped.map((s) => `- ${s.name}: ${s.reason}`));
  lines.push("", ...run.notes.map((n) => `Note: ${n}`));
  if (run.kind === "host") {
    const get = (p: string) => run.cases.find((c) => c.path === p);
    const ts = get("ts-api");
    const bare = get("ffi-nop");
    if (ts && bare) lines.push("", `TS API / bare FFI (p50): ${(ts.p50_ns / bare.p50_ns).toFixed(2)}× (goal ≤ 1.2×)`);
  }
  process.stdout.write(`\n${lines.join("\n")}\n`);
}

async function vm(): Promise<RunResult> {
  const { runLab } = await import("../scripts/lab/vm.ts");
  if (args.wine) {
    say("host: preparing the lab's Wine prefix (scripts/windows/lab-prefix.sh)");
    const prep = Bun.spawnSync(["sh", join(root, "scripts/windows/lab-prefix.sh")], { cwd: root, stdout: "inherit", stderr: "inherit" });
    if (prep.exitCode !== 0) throw new Error(`scripts/windows/lab-prefix.sh exited ${prep.exitCode}`);
  }
  const command = [
    "bun",
    "bench/run.ts",
    "--lab",
    "--time",
    String(minTimeMs),
    "--rounds",
    String(rounds),
    ...(args.quick ? ["--quick"] : []),
    ...(args.wine ? ["--wine"] : []),
  ];
  const r = await runLab({ command, onOutput: (t) => process.stderr.write(t), timeoutMs: 30 * 60_000 });
  if (r.exitCode !== 0) throw new Error(`the lab benchmark exited ${r.exitCode}; see ${r.runDir}/console.log`);
  const run = JSON.parse(readFileSync(join(r.runDir, LAB_FILE), "utf8")) as RunResult;
  run.machine.virtualization = `qemu-${r.accel}`;
  run.machine.host = machineFacts(false);
  run.command = `bun run bench --vm${args.wine ? " --wine" : ""}${args.quick ? " --quick" : ""}`;
  return run;
}

if (args.lab) {
  const dir = process.env.IOPERM_LAB_RUN;
  if (!dir) throw new Error("--lab runs inside the lab VM (use bun run bench --vm); IOPERM_LAB_RUN is not set");
  const run = await lab();
  writeFileSync(join(dir, LAB_FILE), `${JSON.stringify(run)}\n`);
  say(`lab: ${run.cases.length} cases measured, ${run.skipped.length} skipped`);
} else if (args["wine-guest"] !== undefined) {
  await wineGuest(args["wine-guest"]);
} else if (args.case !== undefined) {
  await hostCase(args.case);
} else if (args.render !== undefined) {
  publish(JSON.parse(readFileSync(args.render, "utf8")) as RunResult);
} else if (args.vm || args.wine) {
  publish(await vm());
} else {
  if (args.quick) say(`quick run: results go to ${outDir}`);
  publish(await host());
}

