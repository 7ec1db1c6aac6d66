import { checkPort, type Width } from "./check.ts";

/** What a typed port needs from its handle: the checked accessors of each width. */
export interface PortIO {
  inb(port: number): number;
  inw(port: number): number;
  inl(port: number): number;
  outb(port: number, value: number): void;
  outw(port: number, value: number): void;
  outl(port: number, value: number): void;
}

/**
 * The accessor of one width, bound to one port: a closure that calls the
 * handle's checked accessor directly, so a typed access costs one call more
 * than io.outb() and no lookups (bench/host.ts ts-port8 against ts-api).
 */
function reader(io: PortIO, port: number, width: Width): () => number {
  if (width === 8) return () => io.inb(port);
  if (width === 16) return () => io.inw(port);
  return () => io.inl(port);
}

function writer(io: PortIO, port: number, width: Width): (value: number) => void {
  if (width === 8) return (v) => io.outb(port, v);
  if (width === 16) return (v) => io.outw(port, v);
  return (v) => io.outl(port, v);
}

abstract class PortBase<W extends Width> {
  /** The I/O address, 0..0xFFFF. */
  readonly port: number;
  /** Bits per access: 8, 16 or 32. */
  readonly width: W;

  constructor(port: number, width: W) {
    checkPort(port, width / 8);
    this.port = port;
    this.width = width;
  }
}

/**
 * A port of fixed width, in the spirit of Rust x86_64's `Port<T>`: creating one
 * is cheap and checks the address once; each access still checks the thread's
 * grant in native code.
 * @example const data = io.port8(0x378); data.write(0xAC); data.read();
 */
export class Port<W extends Width = Width> extends PortBase<W> {
  /** One read of `width` bits (inb/inw/inl); NOT_GRANTED when this thread does not hold it. */
  readonly read: () => number;
  /** One write of `width` bits (outb/outw/outl); `value` must fit the width. */
  readonly write: (value: number) => void;

  constructor(io: PortIO, port: number, width: W) {
    super(port, width);
    this.read = reader(io, port, width);
    this.write = writer(io, port, width);
  }
}

/** A port that can only be read (a status register, say). */
export class ReadOnlyPort<W extends Width = Width> extends PortBase<W> {
  /** One read of `width` bits; a ReadOnlyPort has no write(). */
  readonly read: () => number;

  constructor(io: PortIO, port: number, width: W) {
    super(port, width);
    this.read = reader(io, port, width);
  }
}

/** A port that can only be written (a command or POST-code register, say). */
export class WriteOnlyPort<W extends Width = Width> extends PortBase<W> {
  /** One write of `width` bits; a WriteOnlyPort has no read(). */
  readonly write: (value: number) => void;

  constructor(io: PortIO, port: number, width: W) {
    super(port, width);
    this.write = writer(io, port, width);
  }
}

/** What a typed port may do: read and write, read only, or write only. */
export type Access = "rw" | "r" | "w";
