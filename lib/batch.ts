import { checkPort, checkValue, checkWidth, type Width } from "./check.ts";

/** One step of a batch. Build them with `ops.inb(port)`, `ops.outw(port, value)`, … */
export interface BatchOp {
  readonly port: number;
  readonly width: Width;
  readonly write: boolean;
  /** The value to write; ignored for reads. */
  readonly value: number;
}

const read =
  (width: Width) =>
  (port: number): BatchOp => ({ port, width, write: false, value: 0 });
const write =
  (width: Width) =>
  (port: number, value: number): BatchOp => ({ port, width, write: true, value });

/** Batch op builders, named after the instructions. */
export const ops = {
  inb: read(8),
  inw: read(16),
  inl: read(32),
  outb: write(8),
  outw: write(16),
  outl: write(32),
} as const;

/** Bytes per op; the layout of `Op` in zig/src/core.zig (port u16, width u8, flags u8, value u32). */
export const OP_SIZE = 8;
const WRITE_FLAG = 1;

/**
 * Encodes ops into the native layout, checking each one. Throws TypeError or
 * RangeError naming the index of the first bad op.
 */
export function encodeOps(list: readonly BatchOp[]): Uint8Array {
  if (!Array.isArray(list)) throw new TypeError("batch: ops must be an array of BatchOp (see ops.inb, ops.outb, …)");
  const buf = new Uint8Array(list.length * OP_SIZE);
  const view = new DataView(buf.buffer);
  list.forEach((op, i) => {
    try {
      checkWidth(op.width);
      checkPort(op.port, op.width / 8);
      if (op.write) checkValue(op.value, op.width);
    } catch (e) {
      (e as Error).message = `batch op ${i}: ${(e as Error).message}`;
      throw e;
    }
    view.setUint16(i * OP_SIZE, op.port, true);
    view.setUint8(i * OP_SIZE + 2, op.width / 8);
    view.setUint8(i * OP_SIZE + 3, op.write ? WRITE_FLAG : 0);
    view.setUint32(i * OP_SIZE + 4, op.write ? op.value : 0, true);
  });
  return buf;
}

/** The value slot of each op in an encoded buffer (read results land there). */
export function opValues(buf: Uint8Array): Uint32Array {
  const all = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const out = new Uint32Array(all.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = all[i * 2 + 1] ?? 0;
  return out;
}
