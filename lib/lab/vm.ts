// The lab VM: a QEMU PC whose root filesystem is the host's own (9p, read-only,
// under a tmpfs overlay), so a command runs as root at the same paths as on the
// host, in the caller's directory, against real x86 I/O ports. See init.sh for
// the guest side, toolchain.ts for what it needs on the host.
//
// The machine (its standard devices and the named profiles) is described once,
// in machine.ts. COM1 is the console: the command's stdout; its stderr streams
// from <run>/stderr (see init.sh).
import type { Subprocess } from "bun";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ConsoleSplitter, type Phase } from "./console.ts";
import { LabError } from "./errors.ts";
import { streamStderr } from "./stderr.ts";
import { ensureInitramfs } from "./initramfs.ts";
import { debugExitPort, type MachineName, type MachineProfile, machineProfile, type StandardDevice, standardDevices } from "./machine.ts";
import { checkDeviceNames, checkMachine, parseDeviceSpec } from "./preflight.ts";
import { privateDir, readNoFollow, replaceNew } from "./private.ts";
import { checkKvm, type Kernel, type LabTools, prepareLab } from "./toolchain.ts";
import { hexLower as hex } from "../format.ts";

export { LabError, type LabErrorReason } from "./errors.ts";

export interface LabOptions {
  /** Run as root inside the guest, e.g. `["bun", "script.ts"]`. */
  command: string[];
  /** Where the command runs, the same path in the guest; default process.cwd(). */
  cwd?: string | undefined;
  /** Boot this kernel instead of the cached Debian one: a bzImage, or an unpacked kernel package directory. */
  kernel?: string | undefined;
  /**
   * Extra `-device` specs. An isa-serial, isa-parallel or isa-debugcon without
   * `chardev=` gets a host file `<run>/<driver>@<iobase>.out`, e.g. `isa-parallel@0x278.out`.
   */
  devices?: string[] | undefined;
  /**
   * A named machine (lib/lab/machine.ts): "standard" (the default, QEMU's `pc`),
   * "server" (adds a BMC on IPMI KCS at 0xca2) or "q35" (ICH9).
   */
  machine?: MachineName | undefined;
  /** Passed to QEMU as they are, after everything else. */
  qemuArgs?: string[] | undefined;
  /** Record the PC speaker (PIT channel 2 through port 0x61) to <run>/pcspk.wav, named `pcspk` in files. */
  pcspk?: boolean | undefined;
  /**
   * QEMU trace events to record (`qemu-system-x86_64 -trace help` lists them;
   * a trailing `*` matches a prefix), with host timestamps, to
   * <run>/qemu-trace.log, named `qemuTrace` in files: what a device received
   * and answered, seen from the host. The guest reads it as it grows.
   */
  qemuTrace?: string[] | undefined;
  /** Guest RAM; default 2048, from labLimits.minMemoryMiB up to the host's RAM. The overlay's writable layer lives in it. */
  memoryMiB?: number | undefined;
  /**
   * Run dir, the same path in the guest; default a fresh <cache>/runs/<timestamp>-<pid> (see labCacheDir).
   * It must belong to this user and be closed to group and others (else a LabError "unsafe-dir");
   * created with mode 0700 when missing. The files a run writes there replace any left by an earlier run.
   */
  outDir?: string | undefined;
  /**
   * Use KVM (a LabError "no-kvm" when /dev/kvm is missing or not ours). If the
   * guest does not reach the command in ~20 s (nested KVM can hang), the run
   * falls back to TCG.
   */
  kvm?: boolean | undefined;
  /** Whole run, boot included; default 10 min, at most labLimits.maxTimeoutMs. QEMU is killed after it. */
  timeoutMs?: number | undefined;
  /** Extra environment for the guest command. */
  env?: Record<string, string>;
  /**
   * Live stdout of the command (CR stripped); default writes to process.stdout. The
   * command sees a terminal only when this is the default and process.stdout is one.
   */
  onOutput?: (text: string) => void;
  /**
   * Live stderr of the command; default writes to process.stderr. When both this and
   * onOutput are the defaults and process.stdout and process.stderr are terminals, the
   * command's stderr shares its stdout's terminal (it sees a terminal on both, as it would
   * here) and comes out on process.stdout, so `stderr` in the result is empty.
   */
  onError?: (text: string) => void;
  /** Also show the kernel console before and after the command, and the QEMU command line (stderr). */
  verbose?: boolean | undefined;
  /** Progress lines (installing, booting, boot time); default stderr when it is a terminal, else none. */
  onProgress?: (line: string) => void;
}

/** The host files QEMU's devices write: always the standard machine's three, plus one per extra device. */
export interface LabFiles extends Record<string, string | undefined> {
  /** COM2 (0x2f8): every byte the UART transmitted. */
  com2: string;
  /** LPT1 (0x378): every byte latched by a STROBE pulse. */
  lpt1: string;
  /** debugcon (0xe9): every byte written to the port. */
  debugcon: string;
  /** The PC speaker as a WAV file, with `pcspk: true`. */
  pcspk?: string;
  /** QEMU's trace log, with `qemuTrace` events: one `pid@seconds.micros:event args` line each. */
  qemuTrace?: string;
}

export interface LabResult {
  /** The guest command's exact exit code. */
  exitCode: number;
  /** Host path of the run dir, mounted read-write at the same path in the guest. */
  runDir: string;
  /**
   * Witness name -> host file: com2, lpt1, debugcon, one per extra device
   * (e.g. "isa-parallel@0x278", or a PCI serial card's id) and pcspk (a WAV) when asked for.
   */
  files: LabFiles;
  /** QEMU start -> command start. */
  bootMs: number;
  /** The command's stdout, CR stripped. */
  output: string;
  /** The command's stderr (empty when it shared the terminal: see onError). */
  stderr: string;
  accel: "tcg" | "kvm";
}

const defaultTimeoutMs = 10 * 60_000;

/** The bounds runLab accepts; anything outside is a RangeError before any boot. */
export const labLimits = {
  /** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days): a longer one fires at once. */
  maxTimeoutMs: 2 ** 31 - 1,
  /** The least guest RAM that boots: 128 MiB does, and with 64 MiB QEMU exits before the kernel runs. */
  minMemoryMiB: 128,
  /** This host's RAM in MiB: a guest given more is a typo. */
  maxMemoryMiB: () => Math.floor(totalmem() / 2 ** 20),
} as const;

/** Refuses a timeout or memory size QEMU or the timer would not honour, before anything is installed or booted. */
function checkLimits(opts: LabOptions): void {
  const t = opts.timeoutMs;
  if (t !== undefined && !(Number.isFinite(t) && t >= 1 && t <= labLimits.maxTimeoutMs))
    throw new RangeError(`lab: timeoutMs must be 1 to ${labLimits.maxTimeoutMs} (about 24.8 days, the longest timer), got ${t}`);
  const m = opts.memoryMiB;
  const max = labLimits.maxMemoryMiB();
  if (m !== undefined && !(Number.isInteger(m) && m >= labLimits.minMemoryMiB && m <= max))
    throw new RangeError(
      `lab: memoryMiB must be a whole number of MiB from ${labLimits.minMemoryMiB} to ${max} (this host's RAM), got ${m}`,
    );
}
/** Nested KVM hangs at kernel entry on some hosts; TCG reaches the command in under 10 s. */
const kvmBootLimitMs = 20_000;
const tailLines = 40;

/** QEMU's own defaults for ISA devices without iobase/index, mirrored to name their files. */
const isaChardevDevices: Record<string, { bases: number[]; nextIndex: number }> = {
  "isa-serial": { bases: [0x3f8, 0x2f8, 0x3e8, 0x2e8], nextIndex: 2 }, // COM1 and COM2 are ours
  "isa-parallel": { bases: [0x378, 0x278, 0x3bc], nextIndex: 1 }, // LPT1 is ours
  "isa-debugcon": { bases: [0xe9], nextIndex: 0 },
};

/** QEMU's PCI serial cards and the chardev property of each of their ports. */
const pciSerialChardevs: Record<string, string[]> = {
  "pci-serial": ["chardev"],
  "pci-serial-2x": ["chardev1", "chardev2"],
  "pci-serial-4x": ["chardev1", "chardev2", "chardev3", "chardev4"],
};

/** QEMU option values escape commas by doubling them. */
const qemuValue = (s: string) => s.replaceAll(",", ",,");
const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const toStderrIfTty = (line: string) => {
  if (process.stderr.isTTY) process.stderr.write(`${line}\n`);
};

// QEMU children die with us, whatever way we go (Ctrl-C in the CLI ends in exit()).
const running = new Set<Subprocess>();
process.on("exit", () => {
  for (const proc of running) proc.kill("SIGKILL");
});

/** Default run dirs kept; older ones go, but never one younger than an hour (a parallel run may own it). */
const keptRuns = 40;

async function pruneRuns(dir: string): Promise<void> {
  const names = (await readdir(dir).catch(() => [] as string[])).sort().reverse();
  const hourAgo = Date.now() - 3_600_000;
  for (const name of names.slice(keptRuns)) {
    const path = join(dir, name);
    const s = await stat(path).catch(() => null);
    if (s && s.mtimeMs < hourAgo) await rm(path, { recursive: true, force: true });
  }
}

/**
 * The run dir: the user's --out (only theirs, see privateDir), else a new
 * directory under <cache>/runs. The guest runs its guest.sh as root with the
 * host's files readable, so nobody else may be able to write there.
 */
async function makeRunDir(outDir: string | undefined, cache: string): Promise<string> {
  if (outDir !== undefined) return privateDir(outDir, "run dir (outDir, --out)");
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").replace(/\..*/, "");
  const runs = await privateDir(join(cache, "runs"), "lab cache's runs directory");
  const base = join(runs, `${stamp}-${process.pid}`);
  await pruneRuns(runs);
  // Two runs from one process in the same second get -2, -3, …; mkdir is the lock, so each run dir is new.
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    try {
      await mkdir(dir, { mode: 0o700 });
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
}

/** -chardev/-device arguments for the extra devices, and the files they write. */
function extraDevices(specs: string[], runDir: string): { args: string[]; files: Record<string, string> } {
  const args: string[] = [];
  const files: Record<string, string> = {};
  const next = new Map(Object.entries(isaChardevDevices).map(([d, v]) => [d, v.nextIndex]));
  specs.forEach((spec, i) => {
    const { driver, props } = parseDeviceSpec(spec);
    const pciPorts = pciSerialChardevs[driver];
    if (pciPorts !== undefined && !pciPorts.some((p) => props.has(p))) {
      // A PCI serial card: <id or driver#n>.out, or .1.out, .2.out… for each port of a multi-port card.
      const name = props.get("id") ?? `${driver}#${i}`;
      const extra = pciPorts.map((prop, n) => {
        const file = pciPorts.length === 1 ? name : `${name}.${n + 1}`;
        files[file] = join(runDir, `${file}.out`);
        args.push("-chardev", `file,id=lab${i}p${n},path=${qemuValue(files[file] ?? "")}`);
        return `${prop}=lab${i}p${n}`;
      });
      args.push("-device", [spec, ...extra].join(","));
      return;
    }
    const known = isaChardevDevices[driver];
    if (known === undefined || props.has("chardev")) {
      args.push("-device", spec);
      return;
    }
    // QEMU counts every instance, explicit index or not.
    const auto = next.get(driver) ?? 0;
    next.set(driver, auto + 1);
    const iobaseProp = props.get("iobase");
    const index = props.has("index") ? Number(props.get("index")) : auto;
    const iobase = iobaseProp !== undefined ? Number(iobaseProp) : known.bases[index];
    let name = iobase !== undefined && Number.isInteger(iobase) ? `${driver}@${hex(iobase)}` : `${driver}#${i}`;
    while (name in files) name += "+";
    const path = join(runDir, `${name}.out`);
    files[name] = path;
    args.push("-chardev", `file,id=lab${i},path=${qemuValue(path)}`, "-device", `${spec},chardev=lab${i}`);
  });
  return { args, files };
}

/**
 * The guest's PATH: the project's node_modules/.bin, the directory of the Bun
 * running us, then the host's own PATH (the guest sees the host's files at the
 * same paths), then the system directories.
 */
function guestPath(cwd: string): string {
  const { PATH: hostPath = "" } = process.env;
  const dirs = [
    join(cwd, "node_modules", ".bin"),
    dirname(process.execPath),
    ...hostPath.split(":"),
    ..."/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".split(":"),
  ];
  return [...new Set(dirs.filter((d) => d.startsWith("/")))].join(":");
}

function guestScript(command: string[], cwd: string, runDir: string, env: Record<string, string>, colour: boolean): string {
  const path = guestPath(cwd);
  const { TERM: hostTerm = "xterm" } = process.env;
  const vars: Record<string, string> = {
    HOME: "/root",
    USER: "root",
    LOGNAME: "root",
    PATH: path,
    LANG: "C.UTF-8",
    // The guest's stdout is always a tty (the serial console), so tools colour
    // their output unless told not to; that only helps when it lands on a terminal.
    ...(colour ? { TERM: hostTerm } : { TERM: "dumb", NO_COLOR: "1" }),
    IOPERM_LAB: "1",
    IOPERM_LAB_RUN: runDir,
    ...env,
  };
  const lines = ["# Written by lib/lab/vm.ts; the lab's /init runs it as root with an empty environment."];
  for (const [k, v] of Object.entries(vars)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`lab: invalid environment variable name ${JSON.stringify(k)}`);
    lines.push(`export ${k}=${shellQuote(v)}`);
  }
  // A missing command leaves a note, so the host can tell it from a command that exits 127 itself.
  lines.push(
    `cd ${shellQuote(cwd)} || exit 125`,
    `command -v ${shellQuote(command[0] ?? "")} >/dev/null 2>&1 || { printf '%s' "$PATH" >${shellQuote(join(runDir, "not-found"))}; exit 127; }`,
    `exec ${command.map(shellQuote).join(" ")}`,
    "",
  );
  return lines.join("\n");
}

interface Plan {
  id: string;
  runDir: string;
  baseArgs: string[];
  tailArgs: string[];
  deadline: number;
  timeoutMs: number;
  onOutput: (text: string) => void;
  onError: (text: string) => void;
  progress: (line: string) => void;
  verbose: boolean;
}

type Attempt =
  | { kind: "finished"; bootMs: number; output: string; stderr: string; tail: string }
  | { kind: "no-start"; why: string; tail: string };

/** Last lines of the console and QEMU's stderr, for error messages. */
function tailOf(consoleText: string, stderr: string): string {
  const lines = consoleText.split("\n").filter((l) => l.trim() !== "");
  const parts: string[] = [];
  if (lines.length > 0) parts.push("--- last console lines ---", ...lines.slice(-tailLines));
  if (stderr.trim()) parts.push("--- qemu stderr ---", stderr.trim());
  return parts.join("\n");
}

/** QEMU's first complaint, e.g. ": qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69". */
function firstError(stderr: string): string {
  const line = stderr.split("\n").find((l) => l.trim() !== "" && !l.includes("terminating on signal"));
  return line === undefined ? "" : `: ${line.trim()}`;
}

/** The QEMU command line of one boot: the accelerator and -cpu go in after argv[0]. */
function qemuCommand(plan: Plan, accel: "tcg" | "kvm"): string[] {
  const accelArgs = accel === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg", "-cpu", "max,-smap"];
  return [...plan.baseArgs.slice(0, 1), ...accelArgs, ...plan.baseArgs.slice(1), ...plan.tailArgs];
}

/** A running QEMU that is stopped (TERM, then KILL after 3 s) at the run's deadline or a boot limit; `why` says which fired. */
function supervise(proc: Subprocess, plan: Plan, bootLimitMs: number | null) {
  const state = { stopped: null as "timeout" | "boot-limit" | null, killTimer: undefined as Timer | undefined };
  const stop = (why: "timeout" | "boot-limit") => {
    if (state.stopped !== null) return;
    state.stopped = why;
    proc.kill("SIGTERM");
    state.killTimer = setTimeout(() => proc.kill("SIGKILL"), 3000);
  };
  const runTimer = setTimeout(() => stop("timeout"), Math.max(0, plan.deadline - Date.now()));
  const bootTimer = bootLimitMs === null ? undefined : setTimeout(() => stop("boot-limit"), bootLimitMs);
  return {
    why: () => state.stopped,
    booted: () => clearTimeout(bootTimer),
    done: () => {
      clearTimeout(runTimer);
      clearTimeout(bootTimer);
      clearTimeout(state.killTimer);
    },
  };
}

/** Splits the console into boot noise and the command's output, timing the boot; resolves when QEMU closes it. */
async function readConsole(proc: Subprocess<"ignore", "pipe", "pipe">, plan: Plan, t0: number, onBoot: () => void) {
  const seen = { consoleText: "", output: "", bootMs: -1 };
  const splitter = new ConsoleSplitter(plan.id, {
    text(phase: Phase, text: string) {
      seen.consoleText += text;
      if (phase === "command") {
        seen.output += text;
        plan.onOutput(text);
      } else if (plan.verbose) {
        process.stderr.write(text);
      }
    },
    phase(phase: Phase) {
      if (phase !== "command") return;
      onBoot();
      seen.bootMs = performance.now() - t0;
      plan.progress(`lab: running after ${(seen.bootMs / 1000).toFixed(1)} s boot`);
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of proc.stdout) splitter.push(decoder.decode(chunk, { stream: true }));
  splitter.push(decoder.decode());
  splitter.end();
  return seen;
}

/** QEMU's stderr, echoed when verbose. */
async function readStderr(proc: Subprocess<"ignore", "pipe", "pipe">, verbose: boolean): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of proc.stderr) {
    const s = decoder.decode(chunk, { stream: true });
    text += s;
    if (verbose) process.stderr.write(s);
  }
  return text;
}

/** One QEMU boot. `bootLimitMs` bounds the time to the start marker (for KVM). */
async function attempt(plan: Plan, accel: "tcg" | "kvm", bootLimitMs: number | null): Promise<Attempt> {
  const cmd = qemuCommand(plan, accel);
  if (plan.verbose) plan.progress(`lab: ${cmd.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : shellQuote(a))).join(" ")}`);
  plan.progress(`lab: booting (${accel})…`);
  await rm(join(plan.runDir, "exit-code"), { force: true });
  await rm(join(plan.runDir, "not-found"), { force: true });
  const t0 = performance.now();
  const errors = streamStderr(join(plan.runDir, "stderr"), plan.onError);
  const proc = Bun.spawn({ cmd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  running.add(proc);
  const watch = supervise(proc, plan, bootLimitMs);
  let commandStderr = "";
  const [status, seen, stderr] = await Promise.all([
    proc.exited,
    readConsole(proc, plan, t0, watch.booted),
    readStderr(proc, plan.verbose),
  ]).finally(() => {
    commandStderr = errors.stop();
  });
  running.delete(proc);
  watch.done();
  await replaceNew(join(plan.runDir, accel === "kvm" && seen.bootMs < 0 ? "console-kvm.log" : "console.log"), seen.consoleText);
  return verdictOf(plan, { status, stderr, commandStderr, stopped: watch.why(), bootLimitMs, ...seen });
}

/** What one boot came to: finished, did not start (why), or a timeout (thrown). */
function verdictOf(
  plan: Plan,
  r: {
    status: number;
    stderr: string;
    commandStderr: string;
    stopped: "timeout" | "boot-limit" | null;
    bootLimitMs: number | null;
    consoleText: string;
    output: string;
    bootMs: number;
  },
): Attempt {
  const tail = tailOf(r.consoleText, r.stderr);
  if (r.stopped === "timeout") {
    const where = r.bootMs < 0 ? "still booting" : "command still running";
    throw new LabError(
      `lab: timed out after ${Math.round(plan.timeoutMs / 1000)} s (${where}); QEMU was killed`,
      "timeout",
      plan.runDir,
      tail,
    );
  }
  if (r.bootMs < 0) {
    const why =
      r.stopped === "boot-limit"
        ? `the command did not start within ${(r.bootLimitMs ?? 0) / 1000} s`
        : `QEMU exited (status ${r.status}) before the command started${firstError(r.stderr)}`;
    return { kind: "no-start", why, tail };
  }
  return { kind: "finished", bootMs: r.bootMs, output: r.output, stderr: r.commandStderr, tail };
}

/**
 * Boots the lab VM, runs `opts.command` as root in the project root and resolves
 * with its exit code. Rejects with a LabError when the guest never reports one
 * (boot failure, kernel panic, timeout).
 *
 * @example
 * const { exitCode, files } = await runLab({ command: ["bun", "test", "test/lab"] });
 */
export async function runLab(opts: LabOptions): Promise<LabResult> {
  if (opts.command.length === 0 || opts.command[0] === "") throw new TypeError("lab: no command given");
  checkLimits(opts);
  const machine = machineProfile(opts.machine);
  const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
  const deadline = Date.now() + timeoutMs;
  const progress = opts.onProgress ?? (opts.verbose ? (line: string) => process.stderr.write(`${line}\n`) : toStderrIfTty);
  if (opts.kvm) checkKvm();
  const cwd = resolve(opts.cwd ?? process.cwd());
  const tools = await prepareLab({ kernel: opts.kernel, progress });
  await checkDeviceNames(tools.qemu, opts.devices ?? []);
  const initramfs = await ensureInitramfs(tools, progress);
  const runDir = await makeRunDir(opts.outDir, tools.cache);
  // Both paths travel on the kernel command line, which splits at whitespace.
  for (const p of [runDir, tools.kernel.modulesDir ?? ""]) {
    if (/[\s"]/.test(p))
      throw new TypeError(`lab: path ${JSON.stringify(p)} contains whitespace or quotes; use another run dir (outDir, --out)`);
  }
  const extra = extraDevices(opts.devices ?? [], runDir);
  const profileArgs = machine.devices.flatMap((d) => ["-device", d.spec]);
  const speaker = opts.pcspk ? pcspkRecording(runDir) : { args: [], files: {} };
  const traced = qemuTraceArgs(opts.qemuTrace ?? [], runDir);
  const files: LabFiles = { ...extra.files, ...speaker.files, ...traced.files, ...standardFiles(runDir) };
  // Every file the host makes here is new (O_EXCL|O_NOFOLLOW): QEMU then opens the witness files we made, never a planted link.
  for (const file of Object.values(files)) if (file !== undefined) await replaceNew(file);
  await replaceNew(join(runDir, "files.json"), `${JSON.stringify(files, null, 2)}\n`);
  const colour = opts.onOutput === undefined && process.stdout.isTTY === true;
  await replaceNew(join(runDir, "guest.sh"), guestScript(opts.command, cwd, runDir, opts.env ?? {}, colour));
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  const plan: Plan = {
    id,
    runDir,
    baseArgs: baseArgs(tools, machine, initramfs, runDir, id, opts.memoryMiB ?? 2048, "stdio", ttyMode(opts)),
    tailArgs: [...profileArgs, ...extra.args, ...speaker.args, ...traced.args, ...(opts.qemuArgs ?? [])],
    deadline,
    timeoutMs,
    onOutput: opts.onOutput ?? ((text) => process.stdout.write(text)),
    onError: opts.onError ?? ((text) => process.stderr.write(text)),
    progress,
    verbose: opts.verbose ?? false,
  };
  // The same machine, paused and with a silent console, must satisfy QEMU and share no I/O ports.
  const paused = { ...plan, baseArgs: baseArgs(tools, machine, initramfs, runDir, id, opts.memoryMiB ?? 2048, "null", ttyMode(opts)) };
  await checkMachine(qemuCommand(paused, "tcg"), opts.devices ?? [], machine);
  const { accel, result } = await boot(plan, opts.kvm ?? false, timeoutMs);
  await commandFound(opts.command[0] ?? "", cwd, runDir);
  return {
    exitCode: await recordedExitCode(runDir, result.tail),
    runDir,
    files,
    bootMs: Math.round(result.bootMs),
    output: result.output,
    stderr: result.stderr,
    accel,
  };
}

/** A LabError "not-found" when the guest's script noted that the command does not exist there. */
async function commandFound(name: string, cwd: string, runDir: string): Promise<void> {
  const path = await readNoFollow(join(runDir, "not-found")).catch(() => null);
  if (path === null) return;
  throw new LabError(
    `lab: command not found in the guest: ${JSON.stringify(name)} (cwd ${cwd}, PATH ${path}). The guest sees the host's files read-only at the same paths: install it on the host, or give its path.`,
    "not-found",
    runDir,
    "",
  );
}

/** QEMU's PC speaker recorded through the wav audio backend. */
function pcspkRecording(runDir: string): { args: string[]; files: Record<string, string> } {
  const wav = join(runDir, "pcspk.wav");
  return { args: ["-audiodev", `wav,id=labsnd,path=${qemuValue(wav)}`, "-machine", "pcspk-audiodev=labsnd"], files: { pcspk: wav } };
}

/** `-trace` for each event, logged with timestamps to <run>/qemu-trace.log; a TypeError names an event that is not a trace name. */
export function qemuTraceArgs(events: readonly string[], runDir: string): { args: string[]; files: { qemuTrace?: string } } {
  if (events.length === 0) return { args: [], files: {} };
  for (const e of events)
    if (!/^[a-z0-9_]+\*?$/.test(e))
      throw new TypeError(`lab: ${JSON.stringify(e)} is not a QEMU trace event name (qemu-system-x86_64 -trace help lists them)`);
  const log = join(runDir, "qemu-trace.log");
  return { args: [...events.flatMap((e) => ["-trace", e]), "-D", log, "-msg", "timestamp=on"], files: { qemuTrace: log } };
}

/** The standard machine's host-side witness files. */
function standardFiles(runDir: string): { com2: string; lpt1: string; debugcon: string } {
  const files = standardDevices.flatMap((d) => ("file" in d ? [[d.file, join(runDir, `${d.file}.out`)]] : []));
  return Object.fromEntries(files) as { com2: string; lpt1: string; debugcon: string };
}

/**
 * Where the guest command sees a terminal (init.sh's lab.tty): on stdout and stderr
 * (2) when both of ours are terminals and its output comes to them, on stdout (1)
 * when only our stdout is, else nowhere (0).
 */
function ttyMode(opts: LabOptions): 0 | 1 | 2 {
  if (opts.onOutput !== undefined || process.stdout.isTTY !== true) return 0;
  return opts.onError === undefined && process.stderr.isTTY === true ? 2 : 1;
}

/** QEMU's arguments for each standard device (machine.ts), each witness file under `runDir`. */
function standardDeviceArgs(runDir: string, console: "stdio" | "null"): string[] {
  const chardev = (d: StandardDevice) =>
    d.file === undefined ? [] : ["-chardev", `file,id=${d.file},path=${qemuValue(join(runDir, `${d.file}.out`))}`];
  // Exhaustive: a new kind of standard device needs its arguments here.
  const argsOf: Record<StandardDevice["qemu"], (d: StandardDevice) => string[]> = {
    console: () => ["-chardev", console === "stdio" ? "stdio,id=com1,signal=off" : "null,id=com1", "-serial", "chardev:com1"],
    serial: (d) => [...chardev(d), "-serial", `chardev:${d.file}`],
    parallel: (d) => [...chardev(d), "-parallel", `chardev:${d.file}`],
    debugcon: (d) => [...chardev(d), "-device", `isa-debugcon,iobase=${hex(d.port)},chardev=${d.file}`],
    "debug-exit": (d) => ["-device", `isa-debug-exit,iobase=${hex(d.port)},iosize=${hex(d.size)}`],
  };
  return standardDevices.flatMap((d: StandardDevice) => argsOf[d.qemu](d));
}

/** QEMU's arguments for the machine (the accelerator and -cpu go in after argv[0], see qemuCommand). */
function baseArgs(
  tools: LabTools,
  machine: MachineProfile,
  initramfs: string,
  runDir: string,
  id: string,
  memoryMiB: number,
  console: "stdio" | "null",
  tty: 0 | 1 | 2,
): string[] {
  const kernel: Kernel = tools.kernel;
  const append = [
    "console=ttyS0 quiet loglevel=3 panic=-1",
    `lab.run=${runDir} lab.id=${id} lab.modules=${kernel.modulesDir ?? ""} lab.exit=${debugExitPort} lab.tty=${tty}`,
  ].join(" ");
  return [
    tools.qemu,
    ...["-M", machine.type, "-m", String(memoryMiB), "-smp", "1"],
    ...["-nodefaults", "-no-reboot", "-display", "none", "-vga", "std", "-nic", "none"],
    ...["-kernel", kernel.vmlinuz, "-initrd", initramfs, "-append", append],
    // multidevs=remap keeps inode numbers unique across the host's mounts.
    "-virtfs",
    "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
    "-virtfs",
    `local,path=${qemuValue(runDir)},mount_tag=labrun,security_model=none,multidevs=remap`,
    ...standardDeviceArgs(runDir, console),
  ];
}

/** Boots with KVM first when asked (falling back to TCG: nested KVM hangs on some hosts), else TCG. */
async function boot(
  plan: Plan,
  kvm: boolean,
  timeoutMs: number,
): Promise<{ accel: "tcg" | "kvm"; result: Extract<Attempt, { kind: "finished" }> }> {
  if (kvm) {
    const first = await attempt(plan, "kvm", Math.min(kvmBootLimitMs, timeoutMs));
    if (first.kind === "finished") return { accel: "kvm", result: first };
    plan.progress(`lab: KVM failed: ${first.why}; falling back to TCG (console in console-kvm.log)`);
  }
  const result = await attempt(plan, "tcg", null);
  if (result.kind === "no-start") throw new LabError(`lab: ${result.why}`, "boot", plan.runDir, result.tail);
  return { accel: "tcg", result };
}

/** The exit code the guest's /init recorded in the run dir; a LabError when it recorded none. */
async function recordedExitCode(runDir: string, tail: string): Promise<number> {
  const recorded = await readNoFollow(join(runDir, "exit-code")).catch(() => "");
  if (/^\d+\s*$/.test(recorded)) return Number(recorded);
  throw new LabError(
    "lab: the guest stopped before recording the command's exit code (kernel panic or crash?)",
    "no-exit-code",
    runDir,
    tail,
  );
}
