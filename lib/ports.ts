import { checkPort, type Width } from "./check.ts";

/** What a typed port needs from its handle: the checked per-width accessors. */
export interface PortIO {
  read(width: Width, port: number): number;
  write(width: Width, port: number, value: number): void;
}

abstract class PortBase<W extends Width> {
  readonly port: number;
  readonly width: W;
  protected readonly io: PortIO;

  constructor(io: PortIO, port: number, width: W) {
    checkPort(port, width / 8);
    this.io = io;
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
  read(): number {
    return this.io.read(this.width, this.port);
  }
  write(value: number): void {
    this.io.write(this.width, this.port, value);
  }
}

/** A port that can only be read (a status register, say). */
export class ReadOnlyPort<W extends Width = Width> extends PortBase<W> {
  read(): number {
    return this.io.read(this.width, this.port);
  }
}

/** A port that can only be written (a command or POST-code register, say). */
export class WriteOnlyPort<W extends Width = Width> extends PortBase<W> {
  write(value: number): void {
    this.io.write(this.width, this.port, value);
  }
}

export type Access = "rw" | "r" | "w";
