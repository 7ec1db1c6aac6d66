/**
 * What the controller modules (KCS, SMBus, 8042) share: their typed error, and
 * running a handshake's steps in as few native calls as the batch caps allow.
 */
import { type BatchOp, MAX_CALL_US } from "../batch.ts";
import { IopermError } from "../errors.ts";
import type { Ioperm } from "../index.ts";
import { hex } from "../format.ts";

/**
 * Why a controller operation failed:
 * - `TIMEOUT`: a status bit never came (the controller is absent, hung, or slower than the timeout);
 * - `CONTROLLER_ERROR`: the controller reported an error state (KCS ERROR, SMBus DEV_ERR/BUS_ERR/FAILED, a failed self-test);
 * - `NO_DEVICE`: nothing answered (an SMBus address that NACKs, an empty KCS or 8042 status port);
 * - `CLAIMED`: a kernel driver holds the controller's ports (pass `force` to go ahead anyway);
 * - `NOT_FOUND`: no such controller on this machine (no PCI function, or its host interface is disabled);
 * - `BAD_RESPONSE`: an answer too short or for another request.
 */
export type ControllerErrorCode = "TIMEOUT" | "CONTROLLER_ERROR" | "NO_DEVICE" | "CLAIMED" | "NOT_FOUND" | "BAD_RESPONSE";

/** The typed error of the controller modules; `code` is stable, `message` says what to do. */
export class ControllerError extends Error {
  override name = "ControllerError";
  /** Which failure (see ControllerErrorCode). */
  readonly code: ControllerErrorCode;
  /** "kcs", "smbus" or "i8042". */
  readonly controller: string;
  /** The status register's last value, when one was read. */
  readonly status: number | undefined;

  constructor(code: ControllerErrorCode, controller: string, message: string, status?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.controller = controller;
    this.status = status;
  }
}

/** The microseconds a list of steps may spend, by its own declared waits, delays and pulses. */
function timedUs(op: BatchOp): number {
  if (op.step === "wait") return op.timeoutUs;
  if (op.step === "delay") return op.us;
  if (op.step === "pulse") return op.widthUs;
  return 0;
}

/**
 * Runs `list` as one batch when its timed steps fit MAX_CALL_US, else in as few
 * consecutive batches as fit (each a prefix of what is left). Returns every
 * step's value. A wait that times out becomes ControllerError TIMEOUT naming `what`.
 */
export function runSteps(io: Ioperm, list: readonly BatchOp[], controller: string, what: (index: number) => string): number[] {
  const out: number[] = [];
  let start = 0;
  while (start < list.length) {
    let end = start;
    let us = 0;
    while (end < list.length && us + timedUs(list[end] as BatchOp) <= MAX_CALL_US) us += timedUs(list[end++] as BatchOp);
    try {
      out.push(...io.batch(list.slice(start, end)));
    } catch (e) {
      if (e instanceof IopermError && e.code === "TIMEOUT") {
        const at = start + (e.index ?? 0);
        throw new ControllerError(
          "TIMEOUT",
          controller,
          `${controller}: timed out ${what(at)} (status ${hex2(e.value ?? 0)}); is the controller there and idle? A slow one needs a longer timeoutUs`,
          e.value,
          e,
        );
      }
      throw e;
    }
    start = end;
  }
  return out;
}

/** 0xNN, upper-case. */
export const hex2 = (n: number): string => hex(n, 2);
