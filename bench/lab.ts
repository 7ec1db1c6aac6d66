/**
 * Lab cases: real port accesses, run inside the lab VM as root. Every route to
 * a port is timed on the same ports in the same run, so the ratios compare
 * like with like.
 *
 * Ports are picked so that every access is harmless to the guest and to QEMU's
 * host-side files: the POST port (0x80; 16/32-bit spill into the unused DMA page
 * registers 0x81..0x83), LPT1's data latch (nothing goes out without a strobe
 * on the control register), COM2's scratch register, and PCI configuration
 * data with 0xCF8 pointing at the host bridge's ID (read-only).
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { do_not_optimize } from "mitata";
import { native } from "../lib/ffi.ts";
import { Ioperm, MAX_STEP_US, ops, type Width } from "../lib/index.ts";
import type { CaseSpec, Op } from "./model.ts";
import { hexLower as hex } from "../lib/format.ts";

type Native = ReturnType<typeof native>;

interface Target {
  port: number;
  label: string;
  widths: Width[];
  ops: Op[];
  /** What a write writes. */
  value: number;
  /** Ports to grant: the device's register block. */
  grant: { from: number; count: number };
  /** The register block a single /dev/port pread reads at once ("per range"). */
  block: { from: number; count: number };
  /** Whether writing the whole block is harmless too. */
  blockWrite: boolean;
  prepare?: (io: Ioperm) => void;
}

export const TARGETS: Target[] = [
  {
    port: 0x80,
    label: "POST code 0x80",
    widths: [8, 16, 32],
    ops: ["read", "write"],
    value: 0,
    grant: { from: 0x80, count: 4 },
    block: { from: 0x80, count: 4 },
    blockWrite: true,
  },
  {
    port: 0x378,
    label: "LPT1 data 0x378",
    widths: [8],
    ops: ["read", "write"],
    value: 0,
    grant: { from: 0x378, count: 8 },
    block: { from: 0x378, count: 8 },
    blockWrite: false,
  },
  {
    port: 0x2ff,
    label: "COM2 scratch 0x2FF",
    widths: [8],
    ops: ["read", "write"],
    value: 0x5a,
    grant: { from: 0x2f8, count: 8 },
    block: { from: 0x2f8, count: 8 },
    blockWrite: false,
  },
  {
    port: 0xcfc,
    label: "PCI config data 0xCFC",
    widths: [8, 16, 32],
    // A write lands in whatever register 0xCF8 selects, and the kernel owns 0xCF8.
    ops: ["read"],
    value: 0,
    grant: { from: 0xcf8, count: 8 },
    block: { from: 0xcfc, count: 4 },
    blockWrite: false,
    prepare: (io) => io.outl(0xcf8, 0x8000_0000), // bus 0, device 0, function 0, register 0: vendor/device ID
  },
];

const BATCH = 64;
const STRING_SIZES = [64, 4096] as const;
const NATIVE_N = 4096;

const suffix = { 8: "b", 16: "w", 32: "l" } as const;

function buffer(width: Width, length: number, value: number): Uint8Array | Uint16Array | Uint32Array {
  const b = width === 8 ? new Uint8Array(length) : width === 16 ? new Uint16Array(length) : new Uint32Array(length);
  return b.fill(value);
}

/** What every case divides by: single in/out in a Zig loop inside one call (ioperm_bench_in/_out). */
const FLOOR = `native-loop${NATIVE_N}`;

function singleAccess(n: Native, width: Width, op: Op, port: number, value: number): () => unknown {
  if (op === "read") {
    const f = width === 8 ? n.ioperm_inb : width === 16 ? n.ioperm_inw : n.ioperm_inl;
    return () => do_not_optimize(f(port));
  }
  const f = width === 8 ? n.ioperm_outb : width === 16 ? n.ioperm_outw : n.ioperm_outl;
  return () => do_not_optimize(f(port, value));
}

function tsAccess(io: Ioperm, width: Width, op: Op, port: number, value: number): () => unknown {
  if (op === "read") {
    if (width === 8) return () => do_not_optimize(io.inb(port));
    if (width === 16) return () => do_not_optimize(io.inw(port));
    return () => do_not_optimize(io.inl(port));
  }
  if (width === 8) return () => io.outb(port, value);
  if (width === 16) return () => io.outw(port, value);
  return () => io.outl(port, value);
}

/** Cases through the direct backend (ioperm + in/out in this process); `io` holds the grants. */
export function directCases(io: Ioperm): CaseSpec[] {
  const n = native();
  const specs: CaseSpec[] = [];
  for (const t of TARGETS) {
    for (const width of t.widths) {
      for (const op of t.ops) {
        const floor = FLOOR;
        const rw = `${op === "read" ? "r" : "w"}${width}`;
        const base = { port: t.port, width, op, floor };
        const add = (path: string, accesses: number, fn: () => unknown) =>
          specs.push({ ...base, name: `${hex(t.port)} ${rw} ${path}`, path, accesses, fn });
        const { port, value } = t;

        add("ffi", 1, singleAccess(n, width, op, port, value));
        add("ts", 1, tsAccess(io, width, op, port, value));
        const op1 = op === "read" ? ops[`in${suffix[width]}`](port) : ops[`out${suffix[width]}`](port, value);
        const batch = io.prepare(Array.from({ length: BATCH }, () => op1));
        add(`ts-batch${BATCH}`, BATCH, () => do_not_optimize(batch.run()));
        for (const size of STRING_SIZES) {
          const buf = buffer(width, size, value);
          add(`ts-string${size}`, size, op === "read" ? () => do_not_optimize(io.readInto(port, buf)) : () => io.writeFrom(port, buf));
        }
        const big = buffer(width, NATIVE_N, value);
        const rep =
          op === "read"
            ? width === 8
              ? n.ioperm_insb
              : width === 16
                ? n.ioperm_insw
                : n.ioperm_insl
            : width === 8
              ? n.ioperm_outsb
              : width === 16
                ? n.ioperm_outsw
                : n.ioperm_outsl;
        add(`native-rep${NATIVE_N}`, NATIVE_N, () => do_not_optimize(rep(port, big, NATIVE_N)));
        const loop =
          op === "read" ? () => n.ioperm_bench_in(port, width / 8, NATIVE_N) : () => n.ioperm_bench_out(port, width / 8, value, NATIVE_N);
        add(`native-loop${NATIVE_N}`, NATIVE_N, () => do_not_optimize(loop()));
      }
    }
  }
  return specs;
}

/**
 * The Windows driver's ports: what the lab allowlist (scripts/windows/lab-prefix.sh)
 * lets through, a subset of TARGETS.
 */
export const DRIVER_GRANTS = [
  { from: 0x80, count: 4 },
  { from: 0x378, count: 3 },
];

/**
 * Cases through ioperm.sys, run by bun.exe under Wine in the lab VM: `io` is a
 * driver-backend handle holding DRIVER_GRANTS, native() is ioperm.dll. Every
 * single access is one DeviceIoControl; a batch or string is one per call.
 * Each divides by the direct path's floor for the same access (measured by the
 * Linux side of the same run), so the ratio is the driver's cost over direct.
 */
export function driverCases(io: Ioperm): CaseSpec[] {
  const n = native();
  const specs: CaseSpec[] = [];
  for (const t of TARGETS.filter((t) => DRIVER_GRANTS.some((g) => g.from === t.port))) {
    for (const width of t.widths) {
      for (const op of t.ops) {
        const rw = `${op === "read" ? "r" : "w"}${width}`;
        const base = { port: t.port, width, op, floor: FLOOR };
        const add = (path: string, accesses: number, fn: () => unknown) =>
          specs.push({ ...base, name: `${hex(t.port)} ${rw} ${path}`, path, accesses, fn });
        const { port, value } = t;
        add("driver-ffi", 1, singleAccess(n, width, op, port, value));
        add("driver-ts", 1, tsAccess(io, width, op, port, value));
        const op1 = op === "read" ? ops[`in${suffix[width]}`](port) : ops[`out${suffix[width]}`](port, value);
        const batch = io.prepare(Array.from({ length: BATCH }, () => op1));
        add(`driver-ts-batch${BATCH}`, BATCH, () => do_not_optimize(batch.run()));
        const buf = buffer(width, BATCH, value);
        add(
          `driver-ts-string${BATCH}`,
          BATCH,
          op === "read" ? () => do_not_optimize(io.readInto(port, buf)) : () => io.writeFrom(port, buf),
        );
      }
    }
  }
  return specs;
}

/** /dev/port cases (8-bit only: the kernel moves one byte per port): through the library and raw node:fs. */
export function devportCases(io: Ioperm, fd: number): CaseSpec[] {
  const specs: CaseSpec[] = [];
  for (const t of TARGETS) {
    if (!t.widths.includes(8)) continue;
    for (const op of t.ops) {
      const floor = FLOOR;
      const base = { port: t.port, width: 8, op, floor } as const;
      const add = (path: string, accesses: number, fn: () => unknown) =>
        specs.push({ ...base, name: `${hex(t.port)} ${op === "read" ? "r" : "w"}8 ${path}`, path, accesses, fn });
      const { port, value } = t;
      const one = new Uint8Array([value]);
      const str = new Uint8Array(BATCH).fill(value);
      const block = new Uint8Array(t.block.count);
      if (op === "read") {
        add("devport-ts", 1, () => do_not_optimize(io.inb(port)));
        add(`devport-ts-string${BATCH}`, BATCH, () => do_not_optimize(io.readInto(port, str)));
        add("devport-pread", 1, () => do_not_optimize(readSync(fd, one, 0, 1, port)));
        add("devport-pread-range", t.block.count, () => do_not_optimize(readSync(fd, block, 0, block.length, t.block.from)));
      } else {
        add("devport-ts", 1, () => io.outb(port, value));
        add(`devport-ts-string${BATCH}`, BATCH, () => io.writeFrom(port, str));
        add("devport-pread", 1, () => do_not_optimize(writeSync(fd, one, 0, 1, port)));
        if (t.blockWrite) {
          add("devport-pread-range", t.block.count, () => do_not_optimize(writeSync(fd, block, 0, block.length, t.block.from)));
        }
      }
    }
  }
  return specs;
}

/**
 * ppdev cases on LPT1's data register (the one port ppdev reaches): one ioctl
 * per access through /dev/parport0, what an ordinary user in group lp pays.
 */
export function ppdevCases(io: Ioperm): CaseSpec[] {
  const t = TARGETS.find((x) => x.port === 0x378);
  if (!t) return [];
  return t.ops.map((op) => ({
    port: t.port,
    width: 8,
    op,
    floor: FLOOR,
    name: `${hex(t.port)} ${op === "read" ? "r" : "w"}8 ppdev-ts`,
    path: "ppdev-ts",
    accesses: 1,
    fn: op === "read" ? () => do_not_optimize(io.inb(t.port)) : () => io.outb(t.port, t.value),
  }));
}

/** A process per access: what a shell script driving Debian's ioport tools pays. */
export function commandCases(): CaseSpec[] {
  const specs: CaseSpec[] = [];
  for (const t of TARGETS) {
    for (const width of t.widths) {
      for (const op of t.ops) {
        const floor = FLOOR;
        const tool = `${op === "read" ? "in" : "out"}${suffix[width]}`;
        const cmd = op === "read" ? [tool, hex(t.port)] : [tool, hex(t.port), hex(t.value)];
        specs.push({
          name: `${hex(t.port)} ${op === "read" ? "r" : "w"}${width} ioport-cmd`,
          path: "ioport-cmd",
          port: t.port,
          width,
          op,
          accesses: 1,
          floor,
          fn: () => {
            const r = Bun.spawnSync({ cmd, stdout: "pipe", stderr: "pipe" });
            if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}: ${r.stderr.toString().trim()}`);
            return do_not_optimize(r.stdout);
          },
        });
      }
    }
  }
  return specs;
}

/** Grants every target's block on `io`; `prepare` also runs each target's set-up (direct backend only: it may be 32-bit). */
export function grantTargets(io: Ioperm, prepare: boolean): void {
  for (const t of TARGETS) io.grant(t.grant.from, t.grant.count);
  if (prepare) for (const t of TARGETS) t.prepare?.(io);
}

/** Opens /dev/port for the raw node:fs cases. */
export function openDevport(): { fd: number; close: () => void } {
  const fd = openSync("/dev/port", "r+");
  return { fd, close: () => closeSync(fd) };
}

// --- A handshake: one batch against a call per step -------------------------

const LPT1 = 0x378;
const LPT1_STATUS = LPT1 + 1;
const LPT1_CONTROL = LPT1 + 2;
/** Status bit 7 reads 1 when the printer is not busy; QEMU clears it on a strobe and sets it again a few status reads later. */
const NOT_BUSY = 0x80;
/** Control: SELECT and INIT held, STROBE (bit 0) as given; a rising STROBE sends the data byte to the host file. */
const STROBE_ON = 0x0d;
const STROBE_OFF = 0x0c;
/** The byte each transaction sends. */
const HANDSHAKE_BYTE = 0x2e;
/** Native steps of one transaction: the wait's reads run inside the native call. */
export const HANDSHAKE_STEPS = 4;

/**
 * One byte out of LPT1 the way a driver sends it, waiting out BUSY: wait for
 * NOT_BUSY, write the data, pulse STROBE. Works on the standard lab machine
 * and inside the Windows driver's lab allowlist (0x378-0x37A). Each transaction
 * reaches QEMU's LPT1 host file, and the next one waits for the busy bit that
 * its strobe raised.
 */
export function handshakeSteps() {
  return [
    // The longest wait a step may have: the timeout runs on the guest's clock, and a busy host can stall the
    // emulated CPU for over 10 ms between the wait's start and its first read (seen: 1 run in ~12,000 timed out at 10 ms).
    ops.wait(LPT1_STATUS, NOT_BUSY, NOT_BUSY, MAX_STEP_US),
    ops.outb(LPT1, HANDSHAKE_BYTE),
    ops.outb(LPT1_CONTROL, STROBE_ON),
    ops.outb(LPT1_CONTROL, STROBE_OFF),
  ];
}

/** The same transaction as separate calls from TypeScript, the wait a bounded inb loop. */
function handshakeTs(io: Ioperm): () => void {
  return () => {
    let reads = 0;
    while ((io.inb(LPT1_STATUS) & NOT_BUSY) !== NOT_BUSY) {
      if (++reads > 10_000) throw new Error("LPT1 stayed busy for 10,000 status reads");
    }
    io.outb(LPT1, HANDSHAKE_BYTE);
    io.outb(LPT1_CONTROL, STROBE_ON);
    io.outb(LPT1_CONTROL, STROBE_OFF);
  };
}

/**
 * Handshake cases on `io` (direct backend in the lab, the driver under Wine;
 * `prefix` "" or "driver-"): per transaction, the separate calls divided by the
 * batch. `calls` is each path's native calls per transaction, counted (see countNativeCalls).
 */
export function handshakeCases(io: Ioperm, prefix: "" | "driver-", calls: { batch: number; ts: number }): CaseSpec[] {
  io.outb(LPT1_CONTROL, STROBE_OFF);
  const batch = io.prepare(handshakeSteps());
  const floor = `${prefix}handshake-batch`;
  const base = { port: LPT1, width: 8, op: "write", accesses: 1, floor } as const;
  return [
    { ...base, name: `lpt1 ${prefix}handshake-batch`, path: floor, nativeCalls: calls.batch, fn: () => do_not_optimize(batch.run()) },
    { ...base, name: `lpt1 ${prefix}handshake-ts`, path: `${prefix}handshake-ts`, nativeCalls: calls.ts, fn: handshakeTs(io) },
  ];
}

/**
 * Native calls per handshake transaction of each path, counted rather than
 * assumed: a handle of its own whose symbol table counts every call into the
 * native library (on the driver backend each one is a DeviceIoControl), over
 * `transactions` transactions. The handle is closed before the timed one opens.
 */
export function countNativeCalls(backend: "direct" | "driver", transactions = 200): { batch: number; ts: number } {
  let calls = 0;
  const n = native();
  const counting = Object.fromEntries(
    Object.entries(n).map(([k, f]) => [
      k,
      typeof f === "function"
        ? (...args: unknown[]) => {
            calls++;
            return (f as (...a: unknown[]) => unknown)(...args);
          }
        : f,
    ]),
  ) as Native;
  using io = new Ioperm({ backend }, counting);
  io.grant(LPT1, 3);
  io.outb(LPT1_CONTROL, STROBE_OFF);
  using batch = io.prepare(handshakeSteps());
  const ts = handshakeTs(io);
  const per = (fn: () => unknown) => {
    calls = 0;
    for (let i = 0; i < transactions; i++) fn();
    return calls / transactions;
  };
  return { batch: per(() => batch.run()), ts: per(ts) };
}
