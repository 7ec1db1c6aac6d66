/**
 * Argument checks, run before any native call. The fast path is one integer
 * comparison; only a failing check pays for working out which error to throw.
 */
import { hex } from "./format.ts";

export type Width = 8 | 16 | 32;

const describe = (v: unknown): string => (typeof v === "number" ? String(v) : typeof v);
/** A port or value as the datasheets print it: 0x… when it is a whole number >= 0. */
const num = (v: number): string => (Number.isInteger(v) && v >= 0 ? hex(v) : String(v));

/** `port` is an integer 0..0xFFFF and port+bytes does not pass 0x10000. */
export function checkPort(port: number, bytes = 1, what = "port"): void {
  if ((port & 0xffff) === port && port + bytes <= 0x10000) return;
  if (typeof port !== "number" || !Number.isInteger(port)) {
    throw new TypeError(`${what} must be an integer, got ${describe(port)}`);
  }
  throw new RangeError(
    port < 0 || port > 0xffff
      ? `${what} ${num(port)} is outside 0x0000-0xFFFF`
      : `${what} ${hex(port)} with width ${bytes * 8} passes 0xFFFF: its last byte would be port ${hex(port + bytes - 1)}`,
  );
}

/** A range from..from+count-1 inside the port space, count >= 1. */
export function checkRange(from: number, count: number): void {
  checkPort(from, 1, "from");
  if (Number.isInteger(count) && count >= 1 && from + count <= 0x10000) return;
  if (typeof count !== "number" || !Number.isInteger(count)) {
    throw new TypeError(`count must be an integer, got ${describe(count)}`);
  }
  throw new RangeError(
    count < 1
      ? `count ${count} from ${hex(from)} must be at least 1`
      : `count ${count} from ${hex(from)} passes 0xFFFF: the last port would be ${hex(from + count - 1)}; at most ${0x10000 - from} ports fit`,
  );
}

const max = { 8: 0xff, 16: 0xffff, 32: 0xffffffff } as const;

/** `value` is an integer that fits `width` bits (unsigned). */
export function checkValue(value: number, width: Width): void {
  if (value >>> 0 === value && value <= max[width]) return;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`value must be an integer, got ${describe(value)}`);
  }
  const wider = value < 0 ? undefined : ([16, 32] as const).find((w) => w > width && value <= max[w]);
  const hint =
    value < 0
      ? "; values are unsigned (for a two's-complement byte, write value & 0xFF)"
      : wider === undefined
        ? ""
        : `; use out${wider === 16 ? "w" : "l"} for ${wider} bits`;
  throw new RangeError(`value ${num(value)} does not fit ${width} bits (${hex(0, width / 4)}-${hex(max[width])})${hint}`);
}

/** Throws RangeError unless `width` is 8, 16 or 32. */
export function checkWidth(width: unknown): asserts width is Width {
  if (width === 8 || width === 16 || width === 32) return;
  throw new RangeError(`width must be 8, 16 or 32, got ${describe(width)}`);
}

/** The typed arrays string I/O takes; the element type is the port width. */
export type PortArray = Uint8Array | Uint16Array | Uint32Array;

/** Width in bits of a typed array that string I/O accepts. */
export function arrayWidth(buf: unknown, op: string): Width {
  if (buf instanceof Uint8Array) return 8;
  if (buf instanceof Uint16Array) return 16;
  if (buf instanceof Uint32Array) return 32;
  throw new TypeError(`${op}: buffer must be a Uint8Array, Uint16Array or Uint32Array (its element type is the port width)`);
}
