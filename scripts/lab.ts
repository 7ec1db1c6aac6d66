// Runs a command as root inside the lab VM (lab/vm.ts) and exits with its
// exit code. `bun scripts/lab.ts --help` for usage.
import { parseArgs } from "node:util";
import { LabError, runLab } from "../lab/vm.ts";

const usage = `Usage: bun scripts/lab.ts [options] [-- <command> [args…]]

Boots a QEMU PC (TCG) whose root filesystem is this host's, read-only under a
tmpfs overlay, and runs <command> as root in the project root at the same path
as here. Its output streams here; this exits with its exit code.
Without a command, runs a self-check (kernel, uid, /dev/port, bun, /proc/ioports).

Options:
  --device SPEC     extra QEMU -device (repeatable); an isa-serial, isa-parallel
                    or isa-debugcon without chardev= writes <run>/<driver>@<iobase>.out
  --qemu ARG        extra QEMU argument, passed as is (repeatable)
  --memory MiB      guest RAM (default 2048)
  --out DIR         run dir (default .cache/lab/runs/<timestamp>-<pid>)
  --kvm             try KVM first; falls back to TCG if it does not boot in ~20 s
  --pcspk           record the PC speaker to <run>/pcspk.wav
  --timeout SECONDS kill the VM after this long, boot included (default 600)
  --verbose         also show the kernel console and the QEMU command line
  -h, --help        this text

In the guest: IOPERM_LAB=1, IOPERM_LAB_RUN=<run dir> (shared read-write with the
host; files.json there maps com2, lpt1, debugcon and extra devices to the host
files QEMU writes), PATH starts with .cache/bin and node_modules/.bin.
Standard machine: COM1 console, COM2 0x2f8, LPT1 0x378, debugcon 0xe9,
isa-debug-exit 0xf4, std VGA (Bochs VBE 0x1ce), RTC, i440FX, fw_cfg.

Exit status: the command's, or 124 on timeout, 125 when the lab itself failed.

Example:
  bun scripts/lab.ts --device isa-parallel,iobase=0x278,irq=5,index=1 -- bun test test/lab
`;

const selfCheck = ["sh", "-c", "uname -r; id -u; ls -l /dev/port; bun --version; head -20 /proc/ioports"];

function fail(message: string, status = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(status);
}

function positive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) fail(`lab: --${name} wants a positive number, got ${JSON.stringify(value)}`);
  return n;
}

const options = {
  device: { type: "string", multiple: true },
  qemu: { type: "string", multiple: true },
  memory: { type: "string" },
  out: { type: "string" },
  kvm: { type: "boolean" },
  pcspk: { type: "boolean" },
  timeout: { type: "string" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Our options end at `--` or at the first word that is not one, so the command's
 * own options (`sh -c`) are never ours. Bun itself swallows a `--` that comes
 * right after the script name, hence the second rule.
 */
function splitArgv(argv: string[]): { ours: string[]; command: string[] } {
  const ours: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") return { ours, command: argv.slice(i + 1) };
    if (!arg.startsWith("-")) return { ours, command: argv.slice(i) };
    const takesValue = Object.entries(options).some(([long, o]) => arg === `--${long}` && o.type === "string");
    // Joined as --name=value, since parseArgs rejects values that start with "-" (--qemu -no-hpet).
    if (takesValue && i + 1 < argv.length) ours.push(`${arg}=${argv[++i]}`);
    else ours.push(arg);
  }
  return { ours, command: [] };
}

const { ours, command } = splitArgv(Bun.argv.slice(2));
let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: false }>>;
try {
  parsed = parseArgs({ args: ours, options, allowPositionals: false });
} catch (e) {
  fail(`lab: ${(e as Error).message}\n(see bun scripts/lab.ts --help)`);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}

// The exit handler in vm.ts kills QEMU; these make signals go through it.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => process.exit(128 + { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[signal]));
}

const started = performance.now();
try {
  const timeout = positive("timeout", values.timeout);
  const result = await runLab({
    command: command.length > 0 ? command : selfCheck,
    devices: values.device,
    qemuArgs: values.qemu,
    memoryMiB: positive("memory", values.memory),
    outDir: values.out,
    kvm: values.kvm,
    pcspk: values.pcspk,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    verbose: values.verbose,
  });
  const total = (performance.now() - started) / 1000;
  process.stderr.write(
    `lab: exit ${result.exitCode} (${result.accel}, boot ${(result.bootMs / 1000).toFixed(1)} s, total ${total.toFixed(1)} s; run dir ${result.runDir})\n`,
  );
  process.exit(result.exitCode);
} catch (e) {
  if (e instanceof LabError) fail(`${e.message}\nlab: run dir ${e.runDir}`, e.reason === "timeout" ? 124 : 125);
  fail(e instanceof Error ? e.message : String(e), 125);
}
