/**
 * ioperm: direct x86 I/O-port access for Bun.
 *
 * @example
 * import { open } from "ioperm";
 * using io = open();
 * io.grant(0x378, 3);          // LPT1: data, status, control
 * io.outb(0x378, 0xac);
 * console.log(io.inb(0x378));  // 0xac when a parallel port is there
 *
 * Grants belong to the calling thread (as the kernel keeps them): a Worker
 * starts with none and must grant its own. A port that is not granted is
 * refused with IopermError code NOT_GRANTED before any instruction runs.
 */
import { encodeOps, hasParams, OP_KIND, OP_SIZE, opValues, stepAt, stepValues, type BatchOp } from "./batch.ts";
import { arrayWidth, checkPort, checkRange, checkValue, checkWidth, type PortArray, type Width } from "./check.ts";
import { errorFor, firstMissing, IopermError, localError, type ErrorContext } from "./errors.ts";
import { hex } from "./format.ts";
import { parseParportEntry } from "./devices/lpt.ts";
import { native, nativeDiagnosis } from "./ffi.ts";
import { Errno, Status } from "./status.ts";
import { type Bus, type BusLock, type LockOptions, lockBus } from "./lock.ts";
import { type Access, Port, ReadOnlyPort, WriteOnlyPort, type PortIO } from "./ports.ts";
import { type TraceSink, withTrace } from "./trace.ts";
import { readText } from "./read.ts";

export { IopermError, type IopermCode } from "./errors.ts";
export { MAX_CALL_US, MAX_STEP_US, ops, type BatchOp, type DelayOp, type PortOp, type PulseOp, type WaitOp } from "./batch.ts";
export { Port, ReadOnlyPort, WriteOnlyPort, type Access } from "./ports.ts";
export type { TraceHeader, TraceRecord, TraceSink } from "./trace.ts";
export type { PortArray, Width } from "./check.ts";
export { libraryPath } from "./ffi.ts";
export { spawnSyncWithoutPorts, spawnWithoutPorts } from "./spawn.ts";
export { type Bus, BUSES, BusLock, busLockName, type LockOptions, lockBus, MAX_LOCK_TIMEOUT_MS } from "./lock.ts";
export {
  builtDriverPath,
  type DriverState,
  type DriverVersion,
  driverStatus,
  driverVersion,
  type InstallOptions,
  installDriver,
  installedDriverPath,
  uninstallDriver,
} from "./driver.ts";

/**
 * How ports are reached. `auto`: on Linux ioperm/iopl, then /dev/port; on
 * Windows the driver. `direct` on Windows is the x86-only IOPM grant.
 */
export type BackendName = "auto" | "direct" | "devport" | "driver" | "ppdev";
/**
 * zig/src/grants.zig Backend, by number ("none" doubles as "auto" when opening);
 * test/status.test.ts checks this copy, and ALL_PORTS, against the built library.
 */
export const backendNames = ["none", "direct", "devport", "driver", "ppdev"] as const;
/** The number ioperm_open takes for each backend name. */
export const backendKinds: Record<BackendName, number> = { auto: 0, direct: 1, devport: 2, driver: 3, ppdev: 4 };
/** grants.all_ports_flag: set beside the backend number when the thread holds every port. */
export const ALL_PORTS = 0x100;
/** The backend a thread's grants go through, or none. */
export type ActiveBackend = (typeof backendNames)[number];

/** Options of open(). */
export interface OpenOptions {
  /** Default `auto`. Applies to this thread's grants from now on. */
  backend?: BackendName;
  /** ppdev: the parallel port's device, default /dev/parport0. Its base comes from /proc/sys/dev/parport. */
  device?: string;
  /** ppdev: claim the port exclusively (PPEXCL): the kernel's own drivers (lp) and other processes stay off it. */
  exclusive?: boolean;
  /**
   * Record every access this handle runs (lib/trace.ts, docs/trace.md): a file
   * path (JSON lines, appended) or a sink of your own. Default: $IOPERM_TRACE
   * when set, else no trace, and then the handle pays nothing for it.
   * @example open({ trace: "lpt.trace" }) // then: ioperm trace export lpt.trace --vcd
   */
  trace?: string | TraceSink;
}

/** What the calling thread holds. */
export interface ThreadGrants {
  backend: ActiveBackend;
  /** Every port (grantAll). */
  all: boolean;
}

type Native = ReturnType<typeof native>;

/** What a closed handle's calls return: a status no native call produces. */
const CLOSED_STATUS = -1_000_000;

const closedError = (op: string) => localError("CLOSED", `${op}(): this handle was closed; open() a new one`, op);

/** Statuses of a Windows driver call, whose Win32 error the native side keeps. */
const isDriverStatus = (s: number) => s <= Status.DRIVER_NOT_INSTALLED && s >= Status.DRIVER_IO;

/** The symbol table a closed handle calls: every function answers CLOSED_STATUS. */
function closedSymbols(n: Native): Native {
  const stub = Object.fromEntries(Object.keys(n).map((k) => [k, () => CLOSED_STATUS]));
  return stub as unknown as Native;
}

/**
 * Slow path of the per-access checks: throws the TypeError/RangeError that
 * says what is wrong. Only reached when the one-comparison fast check failed.
 */
function badAccess(port: number, bytes: number, value?: number): never {
  checkPort(port, bytes);
  if (value !== undefined) checkValue(value, (bytes * 8) as Width);
  throw new RangeError(`port ${hex(port)} or value ${value === undefined ? "undefined" : hex(value)} is out of range`);
}

const freedError = (op: string) =>
  localError(
    "FREED",
    `${op}(): this prepared batch was freed (by free(), the end of its \`using\` scope, or close() of its handle); prepare() it again`,
    op,
  );

/** What frees a prepared batch's native copy when its owner forgot to: the handle, never the batch itself. */
interface PreparedCopy {
  handle: number;
  free: (handle: number) => number;
  /** The preparing Ioperm's live handles: only a handle still there is freed (close() may have freed it). */
  live: Map<number, WeakRef<PreparedBatch>>;
}

/** The backstop: frees the native copy of a PreparedBatch that became garbage without free(). */
const preparedCopies = new FinalizationRegistry<PreparedCopy>(({ handle, free, live }) => {
  if (live.delete(handle)) free(handle);
});

/**
 * A prepared batch: encoded and copied into the native library once, its op
 * fields checked once, its grants checked again only when this thread's grants
 * have changed since its last run. Run it many times, then free it: `free()`,
 * or `using` so that the end of the scope does. The library holds a limited
 * number of prepared batches at once (TOO_MANY_PREPARED past it); the garbage
 * collector frees forgotten ones too, but not in time for a loop that prepares.
 *
 * @example
 * using poll = io.prepare([ops.outb(0x378, 0x01), ops.inb(0x379)]);
 * const status = poll.run()[1];
 */
export class PreparedBatch implements Disposable {
  /** Number of ops. */
  readonly length: number;
  readonly #buf: Uint8Array;
  readonly #done = new Uint32Array(1);
  /** One value per slot, as the native run writes them. */
  readonly #values: Uint32Array;
  /** One value per step, when a wait or pulse makes slots and steps differ. */
  readonly #steps: Uint32Array | undefined;
  readonly #io: Ioperm;
  /** The native handle; 0 once freed (the library refuses 0). */
  #handle: number;

  constructor(io: Ioperm, list: readonly BatchOp[]) {
    this.#io = io;
    this.#buf = encodeOps(list);
    this.length = list.length;
    this.#values = new Uint32Array(this.#buf.length / OP_SIZE);
    this.#steps = hasParams(this.#buf) ? new Uint32Array(list.length) : undefined;
    this.#handle = io.prepareEncoded(this.#buf, this.#done, this);
  }

  /**
   * Runs every op and returns each op's value (reads: what was read; timed
   * steps: 0). If the thread's grants no longer cover an op, none runs and the
   * error names it; a wait that times out throws TIMEOUT after the ops before it ran.
   * The values go into one array, which the next run() reuses: copy it to keep it.
   * Throws IopermError FREED after free().
   */
  run(): Uint32Array {
    this.#io.runPrepared(this.#handle, this.#buf, this.#done, this.#values);
    return this.#steps ? stepValues(this.#buf, this.#values, this.#steps) : this.#values;
  }

  /** Whether free() was called (or the handle that prepared it was closed). */
  get freed(): boolean {
    return this.#handle === 0;
  }

  /** Frees the library's copy now; run() then throws FREED. Idempotent. */
  free(): void {
    const handle = this.#handle;
    if (handle === 0) return;
    this.#handle = 0;
    this.#io.freePrepared(handle, this);
  }

  /** `using batch = io.prepare(...)` frees it at the end of the scope. */
  [Symbol.dispose](): void {
    this.free();
  }
}

/** A handle on the calling thread's port access. Close it (or `using`) to drop the grants. */
export class Ioperm implements PortIO, Disposable {
  /** The native exports; replaced by closedSymbols() on close, so no call needs a "closed?" check. */
  #n: Native;
  /** Bus locks taken through this handle, released by close(). */
  #locks = new Set<BusLock>();
  readonly #open: Native;
  /** The batches this handle prepared and nobody freed yet, by native handle; weak, so a forgotten one is still collected. */
  readonly #prepared = new Map<number, WeakRef<PreparedBatch>>();

  /**
   * @param symbols internal: the native exports to call (benchmarks substitute
   * empty exports of the same signatures to time the TypeScript path alone).
   */
  constructor(options: OpenOptions = {}, symbols: Native = native()) {
    const backend = options.backend ?? "auto";
    if (!(backend in backendKinds)) {
      throw new RangeError(`backend must be one of ${Object.keys(backendKinds).join(", ")}, got ${String(backend)}`);
    }
    this.#n = this.#open = withTrace(symbols, options.trace);
    adoptInherited(symbols);
    if (backend === "ppdev") {
      this.#device = options.device ?? "/dev/parport0";
      const base = parportBase(this.#device);
      this.#status(this.#n.ioperm_ppdev(Buffer.from(`${this.#device}\0`), base, options.exclusive ? 1 : 0), { op: "open" });
    }
    this.#status(this.#n.ioperm_open(backendKinds[backend]), { op: "open" });
  }

  /** ppdev: the device this handle claims through. */
  readonly #device: string | undefined;

  #fail(status: number, ctx: ErrorContext): never {
    if (status === CLOSED_STATUS) throw closedError(ctx.op);
    // The native side records why grants fail (and on Windows, any driver call).
    if (ctx.op === "grant" || ctx.op === "grantAll" || isDriverStatus(status)) ctx.diagnosis = nativeDiagnosis();
    if (status === Status.BACKEND_MISMATCH) ctx.backend = this.grants().backend;
    if (this.#device !== undefined) ctx.device = this.#device;
    // The native check refuses the access whole; the message names the byte it lacked.
    if (status === Status.NOT_GRANTED && ctx.port !== undefined && (ctx.bytes ?? 1) > 1)
      ctx.missing = firstMissing(ctx.port, ctx.bytes ?? 1, (p) => this.#n.ioperm_is_granted(p, 1) === 1);
    throw errorFor(status, ctx);
  }

  #status(status: number, ctx: ErrorContext): void {
    if (status < 0) this.#fail(status, ctx);
  }

  #live(op: string): Native {
    if (this.#n !== this.#open) throw closedError(op);
    return this.#n;
  }

  /** Grants ports from..from+count-1 to this thread (ioperm(2), or /dev/port). */
  grant(from: number, count = 1): void {
    const n = this.#live("grant");
    checkRange(from, count);
    this.#status(n.ioperm_grant(from, count), { op: "grant", port: from, count });
  }

  /** Grants every port to this thread (iopl(3)). Opt-in: prefer grant() of the ranges you use. */
  grantAll(): void {
    this.#status(this.#live("grantAll").ioperm_grant_all(), { op: "grantAll" });
  }

  /** Releases a range, or with no arguments everything this thread holds. */
  release(from?: number, count = 1): void {
    const n = this.#live("release");
    if (from === undefined) {
      this.#status(n.ioperm_release(0, 0), { op: "release" });
      return;
    }
    checkRange(from, count);
    this.#status(n.ioperm_release(from, count), { op: "release", port: from, count });
  }

  /** Whether this thread may access port..port+width/8-1 now. */
  isGranted(port: number, width: Width = 8): boolean {
    checkWidth(width);
    checkPort(port, width / 8);
    return this.#live("isGranted").ioperm_is_granted(port, width / 8) === 1;
  }

  /** The backend this thread's grants use, and whether it holds every port. */
  grants(): ThreadGrants {
    const v = this.#live("grants").ioperm_thread_backend();
    return { backend: backendNames[v & 0xff] ?? "none", all: (v & ALL_PORTS) !== 0 };
  }

  /**
   * Reads 8 bits (`in al, dx`). Throws IopermError NOT_GRANTED, before the
   * instruction, when this thread does not hold the port.
   * @example io.grant(0x379); const status = io.inb(0x379);
   */
  inb(port: number): number {
    if ((port & 0xffff) !== port) badAccess(port, 1);
    const v = this.#n.ioperm_inb(port);
    return v < 0 ? this.#fail(v, { op: "inb", port }) : v;
  }

  /** Reads 16 bits (`in ax, dx`) from port..port+1, both of which must be granted. */
  inw(port: number): number {
    if ((port & 0xffff) !== port || port === 0xffff) badAccess(port, 2);
    const v = this.#n.ioperm_inw(port);
    return v < 0 ? this.#fail(v, { op: "inw", port, bytes: 2 }) : v;
  }

  /** Reads 32 bits (`in eax, dx`) from port..port+3, all of which must be granted; an unsigned number. */
  inl(port: number): number {
    if ((port & 0xffff) !== port || port > 0xfffc) badAccess(port, 4);
    const v = this.#n.ioperm_inl(port) as number;
    return v < 0 ? this.#fail(v, { op: "inl", port, bytes: 4 }) : v;
  }

  /**
   * Writes 8 bits (`out dx, al`); `value` is an integer 0..0xFF.
   * @example io.grant(0x378, 3); io.outb(0x378, 0xac);
   */
  outb(port: number, value: number): void {
    if ((port & 0xffff) !== port || (value & 0xff) !== value) badAccess(port, 1, value);
    const s = this.#n.ioperm_outb(port, value);
    if (s !== 0) this.#fail(s, { op: "outb", port });
  }

  /** Writes 16 bits (`out dx, ax`) to port..port+1; `value` is an integer 0..0xFFFF. */
  outw(port: number, value: number): void {
    if ((port & 0xffff) !== port || port === 0xffff || (value & 0xffff) !== value) badAccess(port, 2, value);
    const s = this.#n.ioperm_outw(port, value);
    if (s !== 0) this.#fail(s, { op: "outw", port, bytes: 2 });
  }

  /** Writes 32 bits (`out dx, eax`) to port..port+3; `value` is an integer 0..0xFFFFFFFF. */
  outl(port: number, value: number): void {
    if ((port & 0xffff) !== port || port > 0xfffc || value >>> 0 !== value) badAccess(port, 4, value);
    const s = this.#n.ioperm_outl(port, value);
    if (s !== 0) this.#fail(s, { op: "outl", port, bytes: 4 });
  }

  /** A read of `width` bits; what typed ports call. */
  read(width: Width, port: number): number {
    return width === 8 ? this.inb(port) : width === 16 ? this.inw(port) : this.inl(port);
  }

  /** A write of `width` bits; what typed ports call. */
  write(width: Width, port: number, value: number): void {
    if (width === 8) this.outb(port, value);
    else if (width === 16) this.outw(port, value);
    else this.outl(port, value);
  }

  /**
   * String input (rep ins): fills `buf` with buf.length reads of one port. The
   * element type sets the width: Uint8Array insb, Uint16Array insw, Uint32Array insl.
   */
  readInto<T extends PortArray>(port: number, buf: T): T {
    const n = this.#live("readInto");
    const width = arrayWidth(buf, "readInto");
    checkPort(port, width / 8);
    const f = width === 8 ? n.ioperm_insb : width === 16 ? n.ioperm_insw : n.ioperm_insl;
    this.#status(f(port, buf, buf.length), { op: "readInto", port, count: buf.length, bytes: width / 8 });
    return buf;
  }

  /** String output (rep outs): writes every element of `buf` to one port, in order. */
  writeFrom(port: number, buf: PortArray): void {
    const n = this.#live("writeFrom");
    const width = arrayWidth(buf, "writeFrom");
    checkPort(port, width / 8);
    const f = width === 8 ? n.ioperm_outsb : width === 16 ? n.ioperm_outsw : n.ioperm_outsl;
    this.#status(f(port, buf, buf.length), { op: "writeFrom", port, count: buf.length, bytes: width / 8 });
  }

  /**
   * Runs ops in order in one native call and returns each op's value (reads:
   * the value read; timed steps: 0). The whole list is checked first, caps
   * included: if any op is refused, none runs and the error names it. A wait
   * that times out stops the list there: IopermError TIMEOUT, with `index`
   * (the wait) and `value` (the last value it read).
   * @example io.batch([ops.outw(0x510, 0), ops.inb(0x511), ops.inb(0x511)])
   * @example io.batch([ops.outb(0xca3, 0x61), ops.wait(0xca3, 0x02, 0, 10_000), ops.inb(0xca2)])
   */
  batch(list: readonly BatchOp[]): number[] {
    const buf = encodeOps(list);
    this.runEncoded(buf, new Uint32Array(1));
    return Array.from(stepValues(buf, opValues(buf)));
  }

  /**
   * Encodes ops once for repeated runs (the fast way to replay a sequence).
   * Free the batch when done with it: `using`, or free().
   * @example using poll = io.prepare([ops.inb(0x379)]); poll.run();
   */
  prepare(list: readonly BatchOp[]): PreparedBatch {
    return new PreparedBatch(this, list);
  }

  /** @internal Runs an encoded op list, each op's value written back into it; `done` receives the failing index. */
  runEncoded(buf: Uint8Array, done: Uint32Array): void {
    const s = this.#live("batch").ioperm_batch(buf, buf.length / 8, done);
    if (s < 0) this.#batchFailed(s, buf, done);
  }

  /**
   * @internal Copies an encoded list into the library for `owner`, which frees
   * it through freePrepared(); close(), or the garbage collector, frees it otherwise.
   */
  prepareEncoded(buf: Uint8Array, done: Uint32Array, owner: PreparedBatch): number {
    const n = this.#live("prepare");
    const handle = Number(n.ioperm_prepare(buf, buf.length / 8, done));
    if (handle === Status.TOO_MANY_PREPARED) throw errorFor(handle, { op: "prepare", count: n.ioperm_prepared_alive() });
    if (handle < 0) this.#batchFailed(handle, buf, done);
    this.#prepared.set(handle, new WeakRef(owner));
    preparedCopies.register(owner, { handle, free: this.#open.ioperm_prepared_free, live: this.#prepared }, owner);
    return handle;
  }

  /** @internal Frees a prepared copy (see PreparedBatch.free); a handle already freed is left alone. */
  freePrepared(handle: number, owner: PreparedBatch): void {
    if (!this.#prepared.delete(handle)) return;
    preparedCopies.unregister(owner);
    this.#open.ioperm_prepared_free(handle);
  }

  /** @internal Runs a prepared copy (see PreparedBatch.run); handle 0: freed. */
  runPrepared(handle: number, buf: Uint8Array, done: Uint32Array, values: Uint32Array): void {
    const s = this.#n.ioperm_prepared_run(handle, done, values);
    if (s < 0) {
      if (handle === 0) throw freedError("run");
      this.#batchFailed(s, buf, done);
    }
  }

  #batchFailed(s: number, buf: Uint8Array, done: Uint32Array): never {
    if (s === CLOSED_STATUS) throw closedError("batch");
    const slot = done[0] ?? 0;
    const index = stepAt(buf, slot);
    if (slot * OP_SIZE + 4 > buf.length) throw errorFor(s, { op: `batch[${index}]`, index });
    const head = new DataView(buf.buffer, buf.byteOffset + slot * OP_SIZE);
    // A delay names no port.
    const port = head.getUint8(3) !== OP_KIND.delay ? head.getUint16(0, true) : undefined;
    const bytes = head.getUint8(2) || 1;
    const ctx: ErrorContext = { op: `batch[${index}]`, index, bytes };
    if (port !== undefined) ctx.port = port;
    if (s === Status.TIMEOUT) ctx.value = this.#open.ioperm_timeout_value();
    if (s === Status.NOT_GRANTED && port !== undefined && bytes > 1)
      ctx.missing = firstMissing(port, bytes, (p) => this.#n.ioperm_is_granted(p, 1) === 1);
    throw errorFor(s, ctx);
  }

  /** A typed 8-bit port. */
  port8(port: number): Port<8>;
  port8(port: number, access: "r"): ReadOnlyPort<8>;
  port8(port: number, access: "w"): WriteOnlyPort<8>;
  port8(port: number, access: Access = "rw"): Port<8> | ReadOnlyPort<8> | WriteOnlyPort<8> {
    return makePort(this, port, 8, access);
  }

  /** A typed 16-bit port. */
  port16(port: number): Port<16>;
  port16(port: number, access: "r"): ReadOnlyPort<16>;
  port16(port: number, access: "w"): WriteOnlyPort<16>;
  port16(port: number, access: Access = "rw"): Port<16> | ReadOnlyPort<16> | WriteOnlyPort<16> {
    return makePort(this, port, 16, access);
  }

  /** A typed 32-bit port. */
  port32(port: number): Port<32>;
  port32(port: number, access: "r"): ReadOnlyPort<32>;
  port32(port: number, access: "w"): WriteOnlyPort<32>;
  port32(port: number, access: Access = "rw"): Port<32> | ReadOnlyPort<32> | WriteOnlyPort<32> {
    return makePort(this, port, 32, access);
  }

  /** Whether close() was called: every call then throws CLOSED. */
  get closed(): boolean {
    return this.#n !== this.#open;
  }

  /**
   * Takes the shared lock of a bus (see lockBus): the named mutex other hardware
   * tools take on Windows, an advisory lock every ioperm process honours on Linux.
   * Bounded by `timeoutMs` (LOCK_TIMEOUT); released by release(), `using`, close() or exit.
   * @example using _ = io.lock("smbus", { timeoutMs: 500 });
   */
  lock(bus: Bus, options?: LockOptions): BusLock {
    this.#live("lock");
    const held = lockBus(bus, options, (l) => this.#locks.delete(l));
    this.#locks.add(held);
    return held;
  }

  /**
   * Frees the batches this handle prepared, releases the bus locks it took and
   * everything this thread holds, and closes the handle. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    for (const l of [...this.#locks]) l.release();
    for (const [handle, batch] of this.#prepared) {
      const b = batch.deref();
      if (b) b.free();
      else if (this.#prepared.delete(handle)) this.#open.ioperm_prepared_free(handle);
    }
    this.#open.ioperm_release(0, 0);
    this.#n = closedSymbols(this.#open);
  }

  /** `using io = open()` closes the handle at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function makePort<W extends Width>(io: Ioperm, port: number, width: W, access: Access) {
  if (access === "r") return new ReadOnlyPort(io, port, width);
  if (access === "w") return new WriteOnlyPort(io, port, width);
  if (access === "rw") return new Port(io, port, width);
  throw new RangeError(`access must be "rw", "r" or "w", got ${String(access)}`);
}

let adopted = false;

/**
 * Under `ioperm run` (its IOPERM_GRANTS_FD), the main thread starts with the
 * ranges the launcher granted before dropping root. Once per process; the
 * native side checks that root wrote and sealed the list, and ignores it
 * otherwise (the mirror then stays empty: NOT_GRANTED, never a fault).
 */
function adoptInherited(n: Native): void {
  const { IOPERM_GRANTS_FD: fd } = process.env;
  if (adopted || fd === undefined || process.platform !== "linux") return;
  adopted = true;
  if (/^\d+$/.test(fd)) n.ioperm_adopt(Number(fd));
}

/**
 * The base address the kernel's parport driver gives a ppdev device
 * (/proc/sys/dev/parport/parportN/base-addr); IopermError ENODEV when there is none.
 */
function parportBase(device: string): number {
  const name = /parport\d+$/.exec(device)?.[0];
  const text = (name && readText(`/proc/sys/dev/parport/${name}/base-addr`)) || "";
  const { base } = parseParportEntry(name ?? device, text, "");
  if (!Number.isInteger(base) || base <= 0) {
    throw new IopermError(
      "ENODEV",
      `open(): no parallel port behind ${device} (/proc/sys/dev/parport/${name ?? "?"}/base-addr is missing): load the drivers with sudo modprobe parport_pc ppdev`,
      { op: "open" },
      Errno.ENODEV,
    );
  }
  return base;
}

/** Opens a handle on this thread's port access. Nothing is granted until grant(). */
export function open(options?: OpenOptions): Ioperm {
  return new Ioperm(options);
}
