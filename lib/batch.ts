import { checkPort, checkValue, checkWidth, type Width } from "./check.ts";
import { hexLower } from "./format.ts";

/** One port access of a batch. Build them with `ops.inb(port)`, `ops.outw(port, value)`, … */
export interface PortOp {
  readonly step?: undefined;
  readonly port: number;
  readonly width: Width;
  readonly write: boolean;
  /** The value to write; ignored for reads. */
  readonly value: number;
}

/** Reads `port` until `(value & mask) === expect`, or fails the batch with TIMEOUT. See `ops.wait`. */
export interface WaitOp {
  readonly step: "wait";
  readonly port: number;
  readonly width: Width;
  readonly mask: number;
  readonly expect: number;
  readonly timeoutUs: number;
}

/** A busy-wait on a monotonic clock. See `ops.delay`. */
export interface DelayOp {
  readonly step: "delay";
  readonly us: number;
}

/** Writes `value`, holds it `widthUs`, writes `rest`. See `ops.pulse`. */
export interface PulseOp {
  readonly step: "pulse";
  readonly port: number;
  readonly width: Width;
  readonly value: number;
  readonly rest: number;
  readonly widthUs: number;
}

/** One step of a batch: a port access, or a timed step (wait, delay, pulse). */
export type BatchOp = PortOp | WaitOp | DelayOp | PulseOp;

/**
 * The most one wait, delay or pulse may take, in microseconds (IOPERM_MAX_STEP_US
 * in windows-driver/include/ioperm_ioctl.h, the one source; test/batch.test.ts
 * checks this copy against it and against the library).
 */
export const MAX_STEP_US = 100_000;
/** The most the timed steps of one call may add up to, in microseconds (IOPERM_MAX_CALL_US). */
export const MAX_CALL_US = 1_000_000;

const read =
  (width: Width) =>
  (port: number): PortOp => ({ port, width, write: false, value: 0 });
const write =
  (width: Width) =>
  (port: number, value: number): PortOp => ({ port, width, write: true, value });

/** A step built by a builder is checked at once, so the error points at the line that built it. */
function checked<T extends BatchOp>(op: T): T {
  checkStep(op);
  return op;
}

/** Batch op builders, named after the instructions, and the timed steps. */
export const ops = {
  inb: read(8),
  inw: read(16),
  inl: read(32),
  outb: write(8),
  outw: write(16),
  outl: write(32),
  /**
   * Reads `port` until `(value & mask) === expect` (at least once), for at most
   * `timeoutUs` (<= MAX_STEP_US). On a timeout the batch stops there: the steps
   * before it ran, none after it, and it throws IopermError TIMEOUT with
   * `index` (this step) and `value` (the last value read). Yields 0 in the results.
   * @example ops.wait(0xca3, 0x02, 0x00, 10_000) // KCS: until IBF clears
   */
  wait: (port: number, mask: number, expect: number, timeoutUs: number, width: Width = 8): WaitOp =>
    checked({ step: "wait", port, width, mask, expect, timeoutUs }),
  /** Busy-waits `us` microseconds (<= MAX_STEP_US) on a monotonic clock, in the native call. Yields 0. */
  delay: (us: number): DelayOp => checked({ step: "delay", us }),
  /**
   * Writes `value`, holds it for `widthUs` (<= MAX_STEP_US) from the end of that
   * write, then writes `rest`: the port holds `value` at least `widthUs`. Yields 0.
   * @example ops.pulse(0x378, 0xff, 1000) // a 1 ms trigger on LPT1's data lines
   */
  pulse: (port: number, value: number, widthUs: number, rest = 0, width: Width = 8): PulseOp =>
    checked({ step: "pulse", port, width, value, rest, widthUs }),
} as const;

/** Bytes per slot; the layout of `Op` in zig/src/core.zig (port u16, width u8, flags u8, value u32). */
export const OP_SIZE = 8;
/** Op kinds (IOPERM_OP_* in windows-driver/include/ioperm_ioctl.h, checked by test/batch.test.ts). */
export const OP_KIND = { read: 0, write: 1, wait: 2, delay: 3, pulse: 4 } as const;

function checkUs(us: number, what: string): void {
  if (Number.isInteger(us) && us >= 0 && us <= MAX_STEP_US) return;
  if (typeof us !== "number" || !Number.isInteger(us)) throw new TypeError(`${what} must be an integer, got ${String(us)}`);
  throw new RangeError(`${what} ${us} is outside 0..${MAX_STEP_US} (the cap of one step, IOPERM_MAX_STEP_US)`);
}

/** Throws the TypeError/RangeError that names what is wrong with one step. */
function checkStep(op: BatchOp): void {
  if (op.step !== undefined && op.step !== "wait" && op.step !== "delay" && op.step !== "pulse")
    throw new TypeError(`unknown step ${String((op as { step: unknown }).step)}: build steps with ops.*`);
  if (op.step === "delay") {
    checkUs(op.us, "delay us");
    return;
  }
  checkWidth(op.width);
  checkPort(op.port, op.width / 8);
  if (op.step === undefined) {
    if (op.write) checkValue(op.value, op.width);
  } else if (op.step === "wait") {
    checkValue(op.mask, op.width);
    checkValue(op.expect, op.width);
    if ((op.expect & ~op.mask) !== 0)
      throw new RangeError(`wait expect ${hexLower(op.expect)} has bits outside mask ${hexLower(op.mask)}: it could never match`);
    checkUs(op.timeoutUs, "wait timeoutUs");
  } else {
    checkValue(op.value, op.width);
    checkValue(op.rest, op.width);
    checkUs(op.widthUs, "pulse widthUs");
  }
}

/** Slots a step takes: a wait and a pulse are a head and a parameter slot. */
const slotsOf = (op: BatchOp): number => (op.step === "wait" || op.step === "pulse" ? 2 : 1);

/**
 * Encodes ops into the native layout (one 8-byte slot per access or delay, two
 * per wait or pulse), checking each one. Throws TypeError or RangeError naming
 * the index of the first bad op. The total of the timed steps is left to the
 * native check (TOO_LONG), which holds every caller to it.
 */
export function encodeOps(list: readonly BatchOp[]): Uint8Array {
  if (!Array.isArray(list)) throw new TypeError("batch: ops must be an array of BatchOp (see ops.inb, ops.outb, …)");
  let slots = 0;
  list.forEach((op, i) => {
    try {
      if (op === null || typeof op !== "object") throw new TypeError(`expected a BatchOp, got ${String(op)}`);
      checkStep(op);
    } catch (e) {
      (e as Error).message = `batch op ${i}: ${(e as Error).message}`;
      throw e;
    }
    slots += slotsOf(op);
  });
  const buf = new Uint8Array(slots * OP_SIZE);
  const view = new DataView(buf.buffer);
  let at = 0;
  const slot = (port: number, width: number, kind: number, value: number) => {
    view.setUint16(at, port, true);
    view.setUint8(at + 2, width);
    view.setUint8(at + 3, kind);
    view.setUint32(at + 4, value, true);
    at += OP_SIZE;
  };
  const pair = (a: number, b: number) => {
    view.setUint32(at, a, true);
    view.setUint32(at + 4, b, true);
    at += OP_SIZE;
  };
  for (const op of list) {
    if (op.step === "delay") slot(0, 0, OP_KIND.delay, op.us);
    else if (op.step === "wait") {
      slot(op.port, op.width / 8, OP_KIND.wait, op.timeoutUs);
      pair(op.mask, op.expect);
    } else if (op.step === "pulse") {
      slot(op.port, op.width / 8, OP_KIND.pulse, op.value);
      pair(op.rest, op.widthUs);
    } else slot(op.port, op.width / 8, op.write ? OP_KIND.write : OP_KIND.read, op.write ? op.value : 0);
  }
  return buf;
}

/** Kinds whose head is followed by a parameter slot. */
const twoSlot = (kind: number | undefined): boolean => kind === OP_KIND.wait || kind === OP_KIND.pulse;

/** Whether an encoded list holds any two-slot step (then slots and steps differ). */
export function hasParams(buf: Uint8Array): boolean {
  for (let at = 3; at < buf.length; at += OP_SIZE) if (twoSlot(buf[at])) return true;
  return false;
}

/**
 * Each step's value from the per-slot values `slots` of an encoded list (reads:
 * the value read; writes: the value written; timed steps: 0), into `out`.
 */
export function stepValues(buf: Uint8Array, slots: Uint32Array, out: Uint32Array = new Uint32Array(buf.length / OP_SIZE)): Uint32Array {
  let step = 0;
  for (let s = 0; s < slots.length; s++) {
    const kind = buf[s * OP_SIZE + 3];
    out[step++] = kind === OP_KIND.read || kind === OP_KIND.write ? (slots[s] ?? 0) : 0;
    if (twoSlot(kind)) s++;
  }
  return step === out.length ? out : out.subarray(0, step);
}

/** The value slot of each slot in an encoded buffer (read results land there). */
export function opValues(buf: Uint8Array): Uint32Array {
  const all = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const out = new Uint32Array(all.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = all[i * 2 + 1] ?? 0;
  return out;
}

/** The step (index in the caller's list) that a native slot index names. */
export function stepAt(buf: Uint8Array, slot: number): number {
  let step = 0;
  for (let s = 0; s < slot && s * OP_SIZE < buf.length; s++, step++) if (twoSlot(buf[s * OP_SIZE + 3])) s++;
  return step;
}
