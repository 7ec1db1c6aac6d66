/**
 * What a benchmark run records (the JSON in bench/results/) and how a case's
 * figures are derived from its timing. Pure: no FFI, no I/O but machine facts.
 */
import { cpus, release, version } from "node:os";
import type { Timing } from "./measure.ts";
import { readText } from "../lib/read.ts";
import type { PulseResult } from "./pulse.ts";

export const SCHEMA = 1;

export type Op = "read" | "write";

/** A case before it runs: what it does, and the call that does it. */
export interface CaseSpec {
  /** Unique within a run, e.g. "0x80 r8 ts". */
  name: string;
  /** Which route to the port; stable identifier (see PATHS). */
  path: string;
  port: number;
  width: 8 | 16 | 32;
  op: Op;
  /** Port accesses one call of `fn` makes; figures are per access. */
  accesses: number;
  /** Path whose p50 is this case's 1.0 (the same port, width and op). */
  floor: string;
  /** Native calls one call of `fn` makes, counted by a wrapped symbol table (handshake cases). */
  nativeCalls?: number;
  fn: () => unknown;
}

export interface CaseResult {
  name: string;
  path: string;
  port: number;
  width: number;
  op: Op;
  accesses_per_call: number;
  calls_per_sample: number;
  samples: number;
  /** Accesses per second, from the mean. */
  ops_per_s: number;
  /** Per access, ns: percentiles over samples (each the mean of calls_per_sample calls). */
  p50_ns: number;
  p99_ns: number;
  avg_ns: number;
  min_ns: number;
  max_ns: number;
  /** p50 / the p50 of `floor` for the same port, width and op; null when that floor did not run. */
  ratio_to_floor: number | null;
  floor: string;
  /** With several rounds: each round's p50 (this case reports the median round). */
  p50_rounds_ns?: number[];
  /** Native calls per call of the case, counted (on the driver backend, DeviceIoControl round trips). */
  native_calls_per_call?: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  /** "none", "qemu-tcg", "qemu-kvm", or what the host's DMI/cpuinfo say ("hypervisor: …"). */
  virtualization: string;
  /** Lab runs: the machine QEMU ran on (TCG speed follows it). */
  host?: Machine;
}

export interface RunResult {
  schema: number;
  kind: "host" | "lab";
  /** The command that produced this file. */
  command: string;
  date: string;
  quick: boolean;
  bun: { version: string; revision: string };
  /** The native library measured: a short sha256 and its size (a debug build is ~4× larger and slower). */
  library: { sha256_12: string; bytes: number };
  machine: Machine;
  harness: { library: string; min_time_ms: number; rounds: number; target_sample_ns: number; note: string };
  cases: CaseResult[];
  /** Lab runs: pulse-width accuracy on LPT1, measured from QEMU's trace by the host (bench/pulse.ts). */
  pulses?: PulseResult[];
  skipped: { name: string; reason: string }[];
  notes: string[];
}

/** What each path means, for the table legend, the chart and the README. */
export const PATHS: Record<string, string> = {
  "ffi-nop": "bare bun:ffi call to ioperm_nop (empty export, outb's signature)",
  "ffi-refused": "bare bun:ffi call to ioperm_outb on an ungranted port (native checks, no instruction)",
  "ts-api": "io.outb() with the native call pointed at ioperm_nop: every TS step, no instruction",
  "ts-port8": "Port<8>.write() (typed port) with the native call pointed at ioperm_nop",
  "ts-traced":
    'io.outb() with open({ trace: "/dev/null" }), the native call pointed at ioperm_nop; 4096 per iteration (one block formatted as JSON lines and written), per access',
  "ts-refused": "io.outb() on an ungranted port, IopermError caught",
  "ts-batch64-nop": "prepare(64 ops).run() with the native call pointed at ioperm_nop_prepared_run, per op",
  ffi: "bare bun:ffi call to the export (ioperm_inb/outb…), one access per call",
  ts: "io.inb()/io.outb()…, one access per call",
  "ts-batch64": "io.prepare(64 ops).run(), per op",
  "ts-string64": "io.readInto()/writeFrom() of 64 elements (rep ins/outs), per element",
  "ts-string4096": "io.readInto()/writeFrom() of 4096 elements (rep ins/outs), per element",
  "native-rep4096": "bare bun:ffi ioperm_ins*/outs* of 4096 (rep ins/outs), per element",
  "native-loop4096": "ioperm_bench_in/out: 4096 single in/out in one Zig call, per access (the floor)",
  "devport-ts": 'open({ backend: "devport" }): io.inb()/outb() = one pread/pwrite of /dev/port',
  "devport-ts-string64": 'open({ backend: "devport" }): readInto/writeFrom of 64 = 64 preads in one call, per byte',
  "devport-pread": "node:fs readSync/writeSync of 1 byte at offset=port on /dev/port",
  "devport-pread-range": "node:fs readSync/writeSync of the register block (consecutive ports) at once, per port",
  "ioport-cmd": "a process per access: Debian ioport's inb/outb command (Bun.spawnSync)",
  "ppdev-ts": 'open({ backend: "ppdev" }): io.inb()/outb() on LPT1 data = one ioctl on /dev/parport0 (no root needed)',
  "driver-ffi": "Windows driver: bare bun:ffi ioperm_inb/outb… in bun.exe under Wine = one DeviceIoControl to ioperm.sys",
  "driver-ts": 'Windows driver: open({ backend: "driver" }) io.inb()/outb()… in bun.exe under Wine, one IOCTL per access',
  "driver-ts-batch64": "Windows driver: io.prepare(64 ops).run() = one BATCH IOCTL, per op",
  "driver-ts-string64": "Windows driver: io.readInto()/writeFrom() of 64 elements = one BATCH IOCTL, per element",
  "handshake-batch":
    "a byte out of LPT1 waiting out BUSY (wait status, write data, strobe on, strobe off) as one prepared batch, per transaction",
  "handshake-ts": "the same LPT1 handshake as separate io.inb()/io.outb() calls, the wait an inb loop in TypeScript, per transaction",
  "driver-handshake-batch": "Windows driver: the LPT1 handshake as one prepared batch = one DeviceIoControl, per transaction",
  "driver-handshake-ts":
    "Windows driver: the LPT1 handshake as separate io.inb()/io.outb() calls = one DeviceIoControl each, per transaction",
};

export function caseResult(spec: CaseSpec, t: Timing): CaseResult {
  const per = (ns: number) => ns / spec.accesses;
  return {
    name: spec.name,
    path: spec.path,
    port: spec.port,
    width: spec.width,
    op: spec.op,
    accesses_per_call: spec.accesses,
    calls_per_sample: t.callsPerSample,
    samples: t.samples,
    ops_per_s: 1e9 / per(t.avg),
    p50_ns: per(t.p50),
    p99_ns: per(t.p99),
    avg_ns: per(t.avg),
    min_ns: per(t.min),
    max_ns: per(t.max),
    ratio_to_floor: null,
    floor: spec.floor,
    ...(spec.nativeCalls === undefined ? {} : { native_calls_per_call: spec.nativeCalls }),
  };
}

/** Fills ratio_to_floor from the floor case of the same port, width and op, measured in this run. */
export function addRatios(cases: CaseResult[]): void {
  const key = (c: Pick<CaseResult, "port" | "width" | "op">, path: string) => `${c.port}/${c.width}/${c.op}/${path}`;
  const byKey = new Map(cases.map((c) => [key(c, c.path), c]));
  for (const c of cases) {
    const floor = byKey.get(key(c, c.floor));
    c.ratio_to_floor = floor && floor.p50_ns > 0 ? c.p50_ns / floor.p50_ns : null;
  }
}

function cpuinfo(): string {
  return readText("/proc/cpuinfo") ?? "";
}

function readTrim(path: string): string {
  return readText(path)?.trim() ?? "";
}

/** The machine this process runs on. `lab` knows it is QEMU; the accelerator is filled in by the host. */
export function machineFacts(lab: boolean): Machine {
  const info = cpuinfo();
  const model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  const flags = /^flags\s*:\s*(.*)$/m.exec(info)?.[1]?.split(/\s+/) ?? [];
  let virtualization = "none";
  if (lab) virtualization = /QEMU TCG/i.test(model) ? "qemu-tcg" : "qemu";
  else if (flags.includes("hypervisor")) {
    const vendor = [readTrim("/sys/class/dmi/id/sys_vendor"), readTrim("/sys/class/dmi/id/product_name")].filter((s) => s !== "").join(" ");
    virtualization = `hypervisor: ${vendor || "unknown (cpuinfo hypervisor flag)"}`;
  }
  return { cpu: model, cores: cpus().length, kernel: `${release()} ${version()}`, virtualization };
}
