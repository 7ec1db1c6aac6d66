/**
 * Argument checks, run before any native call. The fast path is one integer
 * comparison; only a failing check pays for working out which error to throw.
 */
export type Width = 8 | 16 | 32;

const describe = (v: unknown): string => (typeof v === "number" ? String(v) : typeof v);

/** `port` is an integer 0..0xFFFF and port+bytes does not pass 0x10000. */
export function checkPort(port: number, bytes = 1, what = "port"): void {
  if ((port & 0xffff) === port && port + bytes <= 0x10000) return;
  if (typeof port !== "number" || !Number.isInteger(port)) {
    throw new TypeError(`${what} must be an integer, got ${describe(port)}`);
  }
  throw new RangeError(
    port < 0 || port > 0xffff
      ? `${what} ${port} is outside 0..0xFFFF`
      : `${what} 0x${port.toString(16)} with width ${bytes * 8} passes 0xFFFF`,
  );
}

/** A range from..from+count-1 inside the port space, count >= 1. */
export function checkRange(from: number, count: number): void {
  checkPort(from, 1, "from");
  if (Number.isInteger(count) && count >= 1 && from + count <= 0x10000) return;
  if (typeof count !== "number" || !Number.isInteger(count)) {
    throw new TypeError(`count must be an integer, got ${describe(count)}`);
  }
  throw new RangeError(`count ${count} from 0x${from.toString(16)} must be at least 1 and stay within 0..0xFFFF`);
}

const max = { 8: 0xff, 16: 0xffff, 32: 0xffffffff } as const;

/** `value` is an integer that fits `width` bits (unsigned). */
export function checkValue(value: number, width: Width): void {
  if (value >>> 0 === value && value <= max[width]) return;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`value must be an integer, got ${describe(value)}`);
  }
  throw new RangeError(`value ${value} does not fit ${width} bits (0..0x${max[width].toString(16).toUpperCase()})`);
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
