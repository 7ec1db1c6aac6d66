/**
 * `ioperm lab [options] -- CMD…`: runs CMD as root in the lab VM (lib/lab), in
 * this directory, and exits with CMD's exit code. See `ioperm lab --help`.
 */
import { parseArgs } from "node:util";
import { LabError, labCacheDir, labLimits, type MachineName, machinesUsage, prepareLab, runLab } from "../lab/index.ts";
import { commandFor } from "../where.ts";
import type { Command } from "./command.ts";

const usage = `usage: ioperm lab [options] [-- <command> [args…]]

Boots a QEMU PC whose root filesystem is this host's, read-only under a
throwaway overlay, and runs <command> as root in the current directory (the
same path in the guest) against real x86 I/O ports. Its output streams here;
this exits with its exit code. Without a command, runs a short self-check.

On first use, installs what it needs into ${labCacheDir()}
($IOPERM_CACHE, else $XDG_CACHE_HOME/ioperm, else ~/.cache/ioperm): QEMU (apt-get,
as root), a static busybox and Debian's kernel (apt-get download, no root needed).

Options:
  --device SPEC     extra QEMU -device (repeatable); an isa-serial, isa-parallel
                    or isa-debugcon without chardev= writes <run>/<driver>@<iobase>.out,
                    a pci-serial card <run>/<id>.out
  --machine NAME    standard (default), server or q35: see below
  --kvm             use KVM (needs /dev/kvm); falls back to TCG if the guest hangs
  --kernel PATH     boot this kernel: a bzImage (modules from /lib/modules/<release>,
                    or built in) or an unpacked kernel package directory
  --pcspk           record the PC speaker to <run>/pcspk.wav
  --qemu-trace EVENT  record a QEMU trace event (repeatable; e.g. pckbd_kbd_write_command)
                    with host timestamps to <run>/qemu-trace.log, readable in the guest
  --out DIR         run dir, shared with the guest (default <cache>/runs/<time>-<pid>);
                    yours alone: another user's or a group-writable one is refused
  --qemu ARG        extra QEMU argument, passed as is (repeatable)
  --memory MiB      guest RAM, ${labLimits.minMemoryMiB} up to this host's RAM (default 2048)
  --timeout SECONDS kill the VM after this long, boot included (default 600,
                    at most ${Math.floor(labLimits.maxTimeoutMs / 1000)})
  --prepare         only install what the lab needs, and say what it found
  --verbose         also show the kernel console and the QEMU command line
  -h, --help        this text

${machinesUsage()}
In the guest IOPERM_LAB=1 and IOPERM_LAB_RUN=<run dir>; its files.json names
every witness file, and modprobe loads this kernel's modules.

Exit status: the command's; 124 on timeout; 127 when the command is not found
in the guest; 125 when the lab could not run it (unknown device, I/O address
clash, QEMU refused the machine, no /dev/kvm with --kvm, nothing to boot);
64 on a usage error.

Examples:
  ${commandFor("lab -- bun rig.ts")}
  ${commandFor("lab --device isa-parallel,iobase=0x278,irq=5 -- bun test")}
  ${commandFor("lab --machine server -- sh -c 'modprobe ipmi_si && grep -i ipmi /proc/ioports'")}
`;

const selfCheck = ["sh", "-c", "uname -r; id -u; ls -l /dev/port; head -20 /proc/ioports"];

const options = {
  device: { type: "string", multiple: true },
  machine: { type: "string" },
  qemu: { type: "string", multiple: true },
  memory: { type: "string" },
  out: { type: "string" },
  kvm: { type: "boolean" },
  kernel: { type: "string" },
  pcspk: { type: "boolean" },
  "qemu-trace": { type: "string", multiple: true },
  timeout: { type: "string" },
  prepare: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** A bad command line: exit 64 with the message and a pointer to --help. */
export class UsageError extends Error {}

/** An argument that is one of our own options (`--out`, `--out=…`, `-h`) or the `--` that ends them. */
const isOurs = (arg: string) =>
  arg === "--" || arg === "-h" || Object.keys(options).some((l) => arg === `--${l}` || arg.startsWith(`--${l}=`));

/**
 * Our options end at `--` or at the first word that is not one, so the
 * command's own options (`sh -c`) are never ours. A value that looks like an
 * option (`--out --device`) is refused: the value was most likely forgotten.
 * `--qemu` takes QEMU's own options (`--qemu -no-hpet`), so only ours are
 * refused there; `--name=value` passes any value as it is.
 */
export function splitArgv(argv: string[]): { ours: string[]; command: string[] } {
  const ours: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") return { ours, command: argv.slice(i + 1) };
    if (!arg.startsWith("-")) return { ours, command: argv.slice(i) };
    const takesValue = Object.entries(options).some(([long, o]) => arg === `--${long}` && o.type === "string");
    const value = argv[i + 1];
    if (takesValue && value !== undefined) {
      if (arg === "--qemu" ? isOurs(value) : value.startsWith("-") && !/^-\d/.test(value))
        throw new UsageError(
          `${arg} wants a value, but the next argument is the option ${value}; write ${arg}=${value} if that is the value`,
        );
      // Joined as --name=value, since parseArgs rejects values that start with "-" (--qemu -no-hpet).
      ours.push(`${arg}=${value}`);
      i++;
    } else ours.push(arg);
  }
  return { ours, command: [] };
}

/** --timeout SECONDS (decimal, fractions allowed) in milliseconds, within what the lab's timer can keep. */
export function timeoutMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const max = Math.floor(labLimits.maxTimeoutMs / 1000);
  const ms = /^\d+(\.\d+)?$/.test(value) ? Math.ceil(Number(value) * 1000) : Number.NaN;
  if (!(ms >= 1 && ms <= labLimits.maxTimeoutMs))
    throw new UsageError(`--timeout wants seconds, more than 0 and at most ${max} (about 24.8 days), got ${JSON.stringify(value)}`);
  return ms;
}

/** --memory MiB: a whole number from the least that boots to this host's RAM. */
export function memoryMiB(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const [min, max] = [labLimits.minMemoryMiB, labLimits.maxMemoryMiB()];
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max))
    throw new UsageError(`--memory wants a whole number of MiB from ${min} to ${max} (this host's RAM), got ${JSON.stringify(value)}`);
  return n;
}

const exitFor = (e: LabError) => (e.reason === "timeout" ? 124 : e.reason === "not-found" ? 127 : 125);

async function prepareOnly(kernel: string | undefined): Promise<number> {
  const t = await prepareLab({ kernel, progress: (line) => process.stderr.write(`${line}\n`) });
  console.log(`lab: cache ${t.cache}`);
  console.log(`lab: qemu ${t.qemuVersion} (${t.qemu})`);
  console.log(`lab: busybox ${t.busybox}`);
  console.log(`lab: kernel ${t.kernel.release} (${t.kernel.vmlinuz})`);
  return 0;
}

/** Parses and runs one `ioperm lab` command line; resolves with the exit code. */
async function lab(args: string[]): Promise<number> {
  const { ours, command } = splitArgv(args);
  const { values } = parseArgs({ args: ours, options, allowPositionals: false });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (values.prepare) return prepareOnly(values.kernel);
  const timeout = timeoutMs(values.timeout);
  const memory = memoryMiB(values.memory);
  const started = performance.now();
  const result = await runLab({
    command: command.length > 0 ? command : selfCheck,
    devices: values.device,
    machine: values.machine as MachineName | undefined,
    qemuArgs: values.qemu,
    memoryMiB: memory,
    outDir: values.out,
    kvm: values.kvm,
    kernel: values.kernel,
    pcspk: values.pcspk,
    qemuTrace: values["qemu-trace"],
    timeoutMs: timeout,
    verbose: values.verbose,
  });
  if (process.stderr.isTTY || values.verbose) {
    const total = (performance.now() - started) / 1000;
    process.stderr.write(
      `lab: exit ${result.exitCode} (${result.accel}, boot ${(result.bootMs / 1000).toFixed(1)} s, total ${total.toFixed(1)} s; run dir ${result.runDir})\n`,
    );
  } else {
    // Without a terminal (CI) there was no progress to read it from: say where the witness files are.
    process.stderr.write(`lab: run dir ${result.runDir}\n`);
  }
  return result.exitCode;
}

export const command: Command = {
  summary: "run a command as root in a QEMU PC with real legacy ports, here, and check what its devices got",
  async run(args) {
    // The exit handler in lib/lab/vm.ts kills QEMU; these make signals go through it.
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      process.on(signal, () => process.exit(128 + { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[signal]));
    }
    try {
      return await lab(args);
    } catch (e) {
      if (e instanceof LabError) {
        process.stderr.write(`${e.message}\n${e.runDir ? `lab: run dir ${e.runDir}\n` : ""}`);
        return exitFor(e);
      }
      if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
        process.stderr.write(
          `${(e as Error).message.startsWith("ioperm lab") ? "" : "ioperm lab: "}${(e as Error).message}\n(see ${commandFor("lab --help")})\n`,
        );
        return 64;
      }
      if (e instanceof TypeError || e instanceof RangeError) {
        process.stderr.write(`${e.message}\n`);
        return 64;
      }
      throw e;
    }
  },
};
