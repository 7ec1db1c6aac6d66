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

abstract class PortBase<W extends Width> {
  /** The I/O address, 0..0xFFFF. */
  readonly port: number;
  /** Bits per access: 8, 16 or 32. */
  readonly width: W;
  /** The accessors of this width, picked once here rather than on every access. */
  protected readonly rd: (port: number) => number;
  protected readonly wr: (port: number, value: number) => void;

  constructor(io: PortIO, port: number, width: W) {
    checkPort(port, width / 8);
    this.port = port;
    this.width = width;
    if (width === 8) {
      this.rd = (p) => io.inb(p);
      this.wr = (p, v) => io.outb(p, v);
    } else if (width === 16) {
      this.rd = (p) => io.inw(p);
      this.wr = (p, v) => io.outw(p, v);
    } else {
      this.rd = (p) => io.inl(p);
      this.wr = (p, v) => io.outl(p, v);
    }
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
  read(): number {
    return this.rd(this.port);
  }
  /** One write of `width` bits (outb/outw/outl); `value` must fit the width. */
  write(value: number): void {
    this.wr(this.port, value);
  }
}

/** A port that can only be read (a status register, say). */
export class ReadOnlyPort<W extends Width = Width> extends PortBase<W> {
  /** One read of `width` bits; a ReadOnlyPort has no write(). */
  read(): number {
    return this.rd(this.port);
  }
}

/** A port that can only be written (a command or POST-code register, say). */
export class WriteOnlyPort<W extends Width = Width> extends PortBase<W> {
  /** One write of `width` bits; a WriteOnlyPort has no read(). */
  write(value: number): void {
    this.wr(this.port, value);
  }
}

/** What a typed port may do: read and write, read only, or write only. */
export type Access = "rw" | "r" | "w";
