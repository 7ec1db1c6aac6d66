/**
 * The bus locks hardware tools share (zig/src/buslock.zig): take one before a
 * transaction that must not interleave with another program's on the same bus
 * (an SMBus transfer, a Super I/O or EC index/data sequence, a PCI
 * configuration read through 0xCF8/0xCFC).
 *
 * On Windows they are the named mutexes HWiNFO, AIDA64, LibreHardwareMonitor and
 * others take, so ioperm and those tools never corrupt each other's transfers.
 * On Linux they are advisory flock()s on /run/lock/ioperm-<bus>.lock that every
 * ioperm process honours; other Linux tools do not know them.
 *
 * Every wait is bounded (LOCK_TIMEOUT, never a hang); a lock is released by
 * release(), `using`, closing the handle that took it, or the process's exit.
 */
import { readFileSync, statSync } from "node:fs";
import { errorFor, type IopermError } from "./errors.ts";
import { native } from "./ffi.ts";
import { Status } from "./status.ts";
import { readText } from "./read.ts";

/** The buses with a shared lock, in the order of their native kind numbers. */
export const BUSES = ["isa", "smbus", "pci", "ec"] as const;

/** A bus with a shared lock: "isa" (Super I/O, LPC), "smbus", "pci" (configuration space), "ec" (embedded controller). */
export type Bus = (typeof BUSES)[number];

/** The longest wait `lock` accepts, in milliseconds (zig/src/buslock.zig max_timeout_ms). */
export const MAX_LOCK_TIMEOUT_MS = 60_000;

export interface LockOptions {
  /** How long to wait for another holder, in ms (0: try once). Default 1000; at most 60,000. */
  timeoutMs?: number;
}

/** The platform's name of a bus's lock: the lock file on Linux, the mutex on Windows. */
export function busLockName(bus: Bus): string {
  return native().ioperm_bus_lock_name(BUSES.indexOf(bus))?.toString() ?? "";
}

/** Who holds a Linux lock file, from /proc/locks: "pid 1234 (bun)", or "" when it cannot tell. */
function holderOf(path: string): string {
  try {
    const ino = statSync(path).ino;
    for (const line of readFileSync("/proc/locks", "utf8").split("\n")) {
      const m = /^\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
      if (m && Number(m[2]) === ino) {
        const pid = m[1] ?? "";
        const comm = readText(`/proc/${pid}/comm`)?.trim() ?? "";
        return `pid ${pid}${comm ? ` (${comm})` : ""}`;
      }
    }
  } catch {}
  return "";
}

/** A held bus lock. Release it once; `using` does it at the end of the block. */
export class BusLock implements Disposable {
  readonly bus: Bus;
  /** The lock file (Linux) or mutex (Windows) held. */
  readonly name: string;
  #handle: number | undefined;
  #onRelease: ((lock: BusLock) => void) | undefined;

  /** @internal use lockBus() or Ioperm.lock(). */
  constructor(bus: Bus, name: string, handle: number, onRelease?: (lock: BusLock) => void) {
    this.bus = bus;
    this.name = name;
    this.#handle = handle;
    this.#onRelease = onRelease;
  }

  /** Whether this lock is still held by us. */
  get held(): boolean {
    return this.#handle !== undefined;
  }

  /** Gives the lock back (on Windows, call it from the thread that took it). A second call does nothing. */
  release(): void {
    const h = this.#handle;
    if (h === undefined) return;
    this.#handle = undefined;
    this.#onRelease?.(this);
    const s = native().ioperm_bus_unlock(h);
    if (s < 0) throw errorFor(s, { op: "unlock", device: this.name });
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * Takes the shared lock of `bus`, waiting at most `timeoutMs` for another holder.
 * Throws IopermError LOCK_TIMEOUT (naming the holder where Linux tells) when it
 * is still held, RangeError for a bus or timeout out of range.
 * @example using _ = lockBus("smbus", { timeoutMs: 500 }); // ...the SMBus transfer...
 */
export function lockBus(bus: Bus, options: LockOptions = {}, onRelease?: (lock: BusLock) => void): BusLock {
  const kind = BUSES.indexOf(bus);
  if (kind < 0) throw new RangeError(`lock: unknown bus ${JSON.stringify(bus)}; the shared locks are ${BUSES.join(", ")}`);
  const timeoutMs = options.timeoutMs ?? 1000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_LOCK_TIMEOUT_MS)
    throw new RangeError(`lock: timeoutMs must be a whole number of ms from 0 to ${MAX_LOCK_TIMEOUT_MS}, not ${timeoutMs}`);
  const n = native();
  const name = busLockName(bus);
  const out = new BigInt64Array(1);
  const s = n.ioperm_bus_lock(kind, timeoutMs, out);
  if (s < 0) {
    const holder = s === Status.LOCK_TIMEOUT && process.platform === "linux" ? holderOf(name) : "";
    const err: IopermError = errorFor(s, { op: `lock(${bus})`, device: holder ? `${name}, held by ${holder}` : name });
    throw err;
  }
  return new BusLock(bus, name, Number(out[0]), onRelease);
}
