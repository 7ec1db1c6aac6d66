/**
 * The 8042 keyboard controller: data at 0x60, status (read) and command
 * (write) at 0x64. Every command waits for the input buffer to empty (IBF
 * clear) before it is written, and every answer for the output buffer to fill
 * (OBF set) before 0x60 is read; each phase is one batch.
 *
 * The kernel's i8042 driver takes IRQ 1 and reads any byte that raises it, so
 * a controller answer must not raise it: the keyboard interface is disabled
 * (command 0xAD) first, which on QEMU also silences IRQ 1 for answers, and the
 * configuration byte is written back and the interface enabled again after.
 * Needs 0x60 and 0x64 granted.
 */
import { type BatchOp, ops } from "../batch.ts";
import type { Ioperm } from "../index.ts";
import { ControllerError, hex2, runSteps } from "./controller.ts";

/** The data port. */
export const I8042_DATA = 0x60;
/** The status (read) and command (write) port. */
export const I8042_COMMAND = 0x64;
/** Status register bits. */
export const I8042_STATUS = { OBF: 0x01, IBF: 0x02, SYS: 0x04, CMD: 0x08, AUX_OBF: 0x20, TIMEOUT: 0x40, PARITY: 0x80 } as const;
/** Controller commands used here. */
export const I8042_CMD = {
  READ_CONFIG: 0x20,
  WRITE_CONFIG: 0x60,
  DISABLE_AUX: 0xa7,
  SELF_TEST: 0xaa,
  DISABLE_KBD: 0xad,
  ENABLE_KBD: 0xae,
} as const;
/** The configuration byte's "keyboard interface disabled" bit. */
const KBD_DISABLED = 0x10;

/** The configuration ("command") byte, decoded. */
export interface I8042Config {
  keyboardInterrupt: boolean;
  auxInterrupt: boolean;
  systemFlag: boolean;
  keyboardDisabled: boolean;
  auxDisabled: boolean;
  /** Scancode set 2 is translated to set 1. */
  translate: boolean;
  raw: number;
}

/** Decodes the configuration byte. */
export function decodeI8042Config(raw: number): I8042Config {
  return {
    keyboardInterrupt: (raw & 0x01) !== 0,
    auxInterrupt: (raw & 0x02) !== 0,
    systemFlag: (raw & 0x04) !== 0,
    keyboardDisabled: (raw & 0x10) !== 0,
    auxDisabled: (raw & 0x20) !== 0,
    translate: (raw & 0x40) !== 0,
    raw,
  };
}

/** Options of the 8042 calls. */
export interface I8042Options {
  /** Microseconds each IBF/OBF wait may take (default 20 ms). */
  timeoutUs?: number;
  /**
   * Whether the keyboard interface was enabled before the call. Disabling it
   * (0xAD) is the first step and sets bit 4 before the configuration byte can
   * be read, so that bit's earlier value cannot be read back; it is restored as
   * this says. Default true: firmware and operating systems leave it enabled.
   */
  keyboardEnabled?: boolean;
}

/** What i8042SelfTest found and put back. */
export interface I8042Report {
  /** The self-test's answer: 0x55 passed. */
  selfTest: number;
  passed: boolean;
  /** The configuration byte as found (bit 4 as `keyboardEnabled` says). */
  config: number;
  /** The byte as read, with the keyboard interface disabled for the read. */
  configRead: number;
  /** The configuration read back after it was written back (before the keyboard was enabled again). */
  configRestored: number;
}

const wIbf = (t: number) => ops.wait(I8042_COMMAND, I8042_STATUS.IBF, 0, t);
const wObf = (t: number) => ops.wait(I8042_COMMAND, I8042_STATUS.OBF, I8042_STATUS.OBF, t);
const what = (list: readonly BatchOp[]) => (i: number) =>
  `waiting for ${(list[i] as { expect?: number })?.expect ? "the output buffer to fill (OBF)" : "the input buffer to empty (IBF)"}`;

/** A command whose answer is one byte: [IBF clear, command, OBF set, status, data]. Returns [status, data]. */
function ask(io: Ioperm, cmd: number, t: number): [number, number] {
  const list = [wIbf(t), ops.outb(I8042_COMMAND, cmd), wObf(t), ops.inb(I8042_COMMAND), ops.inb(I8042_DATA)];
  const v = runSteps(io, list, "i8042", what(list));
  return [v[3] ?? 0, v[4] ?? 0];
}

/** Reads out what sits in the output buffer (a keypress or a late answer), at most 16 bytes. */
function flush(io: Ioperm): void {
  for (let i = 0; i < 16 && io.inb(I8042_COMMAND) & I8042_STATUS.OBF; i++) io.inb(I8042_DATA);
}

/**
 * Runs `f` with the keyboard interface disabled and the output buffer empty,
 * then writes the configuration byte back and enables the interface again
 * (when `keyboardEnabled`). Returns f's result and the configuration as read.
 */
function withKeyboardOff<T>(
  io: Ioperm,
  opts: I8042Options,
  f: (config: number, t: number) => T,
): { result: T; config: number; read: number; restored: number } {
  const t = opts.timeoutUs ?? 20_000;
  const enabled = opts.keyboardEnabled ?? true;
  if (io.inb(I8042_COMMAND) === 0xff)
    throw new ControllerError("NO_DEVICE", "i8042", "i8042: the status port reads 0xFF: no 8042 here", 0xff);
  const off = [wIbf(t), ops.outb(I8042_COMMAND, I8042_CMD.DISABLE_KBD), wIbf(t)];
  runSteps(io, off, "i8042", what(off));
  try {
    flush(io);
    const [st, cfg] = ask(io, I8042_CMD.READ_CONFIG, t);
    if (st & I8042_STATUS.AUX_OBF)
      throw new ControllerError(
        "CONTROLLER_ERROR",
        "i8042",
        `i8042: mouse data came in place of the configuration byte (status ${hex2(st)}); try again`,
        st,
      );
    const read = cfg;
    const result = f(cfg, t);
    // Written back as read (bit 4 set) and read again: the check that it took.
    const back = [wIbf(t), ops.outb(I8042_COMMAND, I8042_CMD.WRITE_CONFIG), wIbf(t), ops.outb(I8042_DATA, cfg), wIbf(t)];
    runSteps(io, back, "i8042", what(back));
    flush(io);
    const [, restored] = ask(io, I8042_CMD.READ_CONFIG, t);
    return { result, config: enabled ? cfg & ~KBD_DISABLED : cfg, read, restored };
  } finally {
    // Also after a failure: the kernel's keyboard must not stay disabled.
    const on: BatchOp[] = [wIbf(t), ...(enabled ? [ops.outb(I8042_COMMAND, I8042_CMD.ENABLE_KBD), wIbf(t)] : [])];
    runSteps(io, on, "i8042", what(on));
  }
}

/**
 * Reads the configuration byte (command 0x20) and leaves the controller as
 * found. Returns the byte as it was (bit 4 per `keyboardEnabled`).
 */
export function readI8042Config(io: Ioperm, opts: I8042Options = {}): number {
  return withKeyboardOff(io, opts, () => undefined).config;
}

/**
 * The controller self-test (command 0xAA, answer 0x55), with the configuration
 * byte read before it and written back after (a real controller may reset it
 * in the test). Throws ControllerError CONTROLLER_ERROR after restoring when
 * the answer is not 0x55, TIMEOUT when the controller does not answer.
 * @example i8042SelfTest(io) // { selfTest: 0x55, passed: true, config: 0x47, … }
 */
export function i8042SelfTest(io: Ioperm, opts: I8042Options = {}): I8042Report {
  const r = withKeyboardOff(io, opts, (_cfg, t) => ask(io, I8042_CMD.SELF_TEST, Math.max(t, 50_000))[1]);
  const report = { selfTest: r.result, passed: r.result === 0x55, config: r.config, configRead: r.read, configRestored: r.restored };
  if (!report.passed)
    throw new ControllerError(
      "CONTROLLER_ERROR",
      "i8042",
      `i8042: the self-test answered ${hex2(r.result)}, not 0x55: the controller is faulty`,
      r.result,
    );
  return report;
}
