/**
 * IPMI over KCS (Keyboard Controller Style), the in-band path to a BMC: a data
 * register (0xCA2) and a status/command register (0xCA3), driven through the
 * state machine of the IPMI v2.0 specification, section 9.15. Each phase (the
 * write of a request, each byte read, the error exit) is one batch, so its
 * IBF/OBF waits run inside one native call.
 *
 * Needs base..base+1 granted. Do not use it while a kernel driver (ipmi_si)
 * holds the range: the two would interleave their transfers.
 */
import { type BatchOp, ops } from "../batch.ts";
import type { Ioperm } from "../index.ts";
import { ControllerError, hex2, runSteps } from "./controller.ts";
import { hexDigits } from "../format.ts";

/** The KCS data register's usual address (the status/command register is the next port). */
export const KCS_BASE = 0xca2;

/** Status register bits. */
export const KCS_STATUS = { OBF: 0x01, IBF: 0x02, SMS_ATN: 0x04, CD: 0x08 } as const;
/** Control codes written to the command register (and READ to the data register). */
export const KCS_CONTROL = { GET_STATUS_ABORT: 0x60, WRITE_START: 0x61, WRITE_END: 0x62, READ: 0x68 } as const;
/** The interface states in status bits 7:6. */
export type KcsState = "IDLE" | "READ" | "WRITE" | "ERROR";
const STATES: readonly KcsState[] = ["IDLE", "READ", "WRITE", "ERROR"];
/** The KCS interface's own error codes, read in the error exit (spec table 9-5). */
export const KCS_ERROR_CODES: Record<number, string> = {
  0x00: "no error",
  0x01: "aborted by command",
  0x02: "illegal control code",
  0x06: "length error",
  0xff: "unspecified error",
};

/** A KCS status byte, decoded. */
export interface KcsStatus {
  state: KcsState;
  obf: boolean;
  ibf: boolean;
  smsAtn: boolean;
  /** The last write was to the command register. */
  cd: boolean;
  raw: number;
}

/** Decodes a KCS status byte (0xFF, an empty bus, decodes as ERROR with every flag set). */
export function decodeKcsStatus(raw: number): KcsStatus {
  return {
    state: STATES[(raw >> 6) & 3] as KcsState,
    obf: (raw & KCS_STATUS.OBF) !== 0,
    ibf: (raw & KCS_STATUS.IBF) !== 0,
    smsAtn: (raw & KCS_STATUS.SMS_ATN) !== 0,
    cd: (raw & KCS_STATUS.CD) !== 0,
    raw,
  };
}

/** Options of every KCS call. */
export interface KcsOptions {
  /** The data register (default 0xCA2); the status/command register is base + 1. */
  base?: number;
  /** Microseconds each IBF/OBF wait may take (default 50 ms, at most MAX_STEP_US). */
  timeoutUs?: number;
}

/** An IPMI response: the NetFn (the request's + 1), the command, the completion code and the data. */
export interface IpmiResponse {
  netfn: number;
  lun: number;
  cmd: number;
  /** 0x00 is success; see ipmiCompletionText. */
  completionCode: number;
  data: number[];
}

const settings = (o: KcsOptions = {}) => {
  const base = o.base ?? KCS_BASE;
  return { data: base, sc: base + 1, t: o.timeoutUs ?? 50_000 };
};

/**
 * Reads the status register once. 0xFF (nothing decodes the port) means no KCS
 * interface is there.
 */
export function kcsStatus(io: Ioperm, opts?: KcsOptions): KcsStatus {
  return decodeKcsStatus(io.inb(settings(opts).sc));
}

/** Whether a KCS interface answers at the base: a status register that is not an empty bus's 0xFF. */
export function kcsPresent(io: Ioperm, opts?: KcsOptions): boolean {
  return io.inb(settings(opts).sc) !== 0xff;
}

/**
 * The spec's error exit: GET_STATUS/ABORT, then read the interface's error code
 * through a READ phase, leaving the interface IDLE. Returns that code (0x01,
 * "aborted", when it was not in an error state). One batch.
 */
export function kcsAbort(io: Ioperm, opts?: KcsOptions): number {
  const { data, sc, t } = settings(opts);
  const ibf = () => ops.wait(sc, KCS_STATUS.IBF, 0, t);
  const obf = () => ops.wait(sc, KCS_STATUS.OBF, KCS_STATUS.OBF, t);
  const steps: BatchOp[] = [
    ibf(),
    ops.outb(sc, KCS_CONTROL.GET_STATUS_ABORT),
    ibf(),
    ops.inb(data), // clear OBF
    ops.outb(data, 0x00),
    ibf(),
    ops.inb(sc), // 6: READ expected
    obf(),
    ops.inb(data), // 8: the error code
    ops.outb(data, KCS_CONTROL.READ),
    ibf(),
    ops.inb(sc), // 11: IDLE expected
    obf(),
    ops.inb(data), // the dummy byte
  ];
  const v = runSteps(io, steps, "kcs", (i) => `in the error exit (step ${i}), waiting for ${i === 7 || i === 12 ? "OBF" : "IBF to clear"}`);
  const end = decodeKcsStatus(v[11] ?? 0xff);
  if (end.state !== "IDLE")
    throw new ControllerError(
      "CONTROLLER_ERROR",
      "kcs",
      `kcs: the error exit left the interface in ${end.state} (status ${hex2(end.raw)}); retry, or reset the BMC (the spec allows three tries)`,
      end.raw,
    );
  return v[8] ?? 0xff;
}

function checkRequest(netfn: number, cmd: number, data: readonly number[]): void {
  if (!Number.isInteger(netfn) || netfn < 0 || netfn > 0x3f) throw new RangeError(`IPMI NetFn ${netfn} is outside 0..0x3F`);
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0xff) throw new RangeError(`IPMI command ${cmd} is outside 0..0xFF`);
  if (!Array.isArray(data)) throw new TypeError("IPMI request data must be an array of bytes");
  if (data.length > 253) throw new RangeError(`IPMI request data of ${data.length} bytes is over the 253 a KCS message carries`);
  data.forEach((b, i) => {
    if (!Number.isInteger(b) || b < 0 || b > 0xff) throw new RangeError(`IPMI request data[${i}] = ${b} is not a byte`);
  });
}

/** Status bits 7:6 and IBF: a wait on them stops a batch at the step where the interface leaves WRITE. */
const WRITE_READY = { mask: 0xc0 | KCS_STATUS.IBF, expect: 0x80 } as const;

/**
 * The write phase's steps: WRITE_START, each byte but the last, WRITE_END, the
 * last byte. After each write a wait for "IBF clear and state WRITE", so that
 * an interface that goes to ERROR stops the batch right there (as a TIMEOUT
 * whose last status shows the state), then a read of the data register to
 * clear OBF, as the spec asks. `checks` collects the status reads.
 */
export function kcsWriteSteps(bytes: readonly number[], data: number, sc: number, t: number, checks: number[]): BatchOp[] {
  const steps: BatchOp[] = [ops.wait(sc, KCS_STATUS.IBF, 0, t)];
  const ready = () => {
    steps.push(ops.wait(sc, WRITE_READY.mask, WRITE_READY.expect, t));
    checks.push(steps.length);
    steps.push(ops.inb(sc), ops.inb(data)); // the state, then OBF cleared
  };
  steps.push(ops.outb(sc, KCS_CONTROL.WRITE_START));
  ready();
  for (const b of bytes.slice(0, -1)) {
    steps.push(ops.outb(data, b));
    ready();
  }
  steps.push(ops.outb(sc, KCS_CONTROL.WRITE_END));
  ready();
  steps.push(ops.outb(data, bytes.at(-1) ?? 0));
  return steps;
}

/**
 * Sends one IPMI request over KCS and reads the response: the write phase in
 * one batch, then one batch per response byte (wait for IBF to clear and OBF to
 * set, read the byte, ack it with READ) until the interface returns to IDLE.
 * An interface found in its ERROR state goes through the error exit and throws
 * ControllerError CONTROLLER_ERROR (retry the request); a wait that expires throws TIMEOUT.
 * @example kcsRequest(io, 0x06, 0x01) // Get Device ID: completionCode 0 and 11-15 data bytes
 */
export function kcsRequest(io: Ioperm, netfn: number, cmd: number, data: readonly number[] = [], opts?: KcsOptions): IpmiResponse {
  checkRequest(netfn, cmd, data);
  const s = settings(opts);
  const checks: number[] = [];
  const steps = kcsWriteSteps([netfn << 2, cmd, ...data], s.data, s.sc, s.t, checks);
  let v: number[];
  try {
    v = runSteps(io, steps, "kcs", (i) => `writing the request (step ${i}), waiting for IBF to clear in the WRITE state`);
  } catch (e) {
    // IBF clear but the state not WRITE: the interface left the write phase (to ERROR); take the error path.
    if (e instanceof ControllerError && e.code === "TIMEOUT" && e.status !== undefined && !(e.status & KCS_STATUS.IBF))
      fail(io, opts, decodeKcsStatus(e.status), "in the write phase");
    throw e;
  }
  for (const i of checks) {
    const st = decodeKcsStatus(v[i] ?? 0xff);
    if (st.state !== "WRITE") fail(io, opts, st, "in the write phase");
  }
  const bytes: number[] = [];
  for (let n = 0; ; n++) {
    if (n > 300) throw new ControllerError("BAD_RESPONSE", "kcs", "kcs: the BMC sent over 300 bytes without returning to IDLE", undefined);
    const read: BatchOp[] = [
      ...(n > 0 ? [ops.outb(s.data, KCS_CONTROL.READ)] : []),
      ops.wait(s.sc, KCS_STATUS.IBF, 0, s.t),
      ops.wait(s.sc, KCS_STATUS.OBF, KCS_STATUS.OBF, s.t),
      ops.inb(s.sc),
      ops.inb(s.data),
    ];
    let r: number[];
    try {
      r = runSteps(io, read, "kcs", (i) => `reading response byte ${n}, waiting for ${i === read.length - 3 ? "OBF" : "IBF to clear"}`);
    } catch (e) {
      // IBF clear but no OBF coming: an interface in ERROR takes the error path, not a bare timeout.
      if (e instanceof ControllerError && e.code === "TIMEOUT" && e.status !== undefined && (e.status & (0xc0 | KCS_STATUS.IBF)) === 0xc0)
        fail(io, opts, decodeKcsStatus(e.status), `reading response byte ${n}`);
      throw e;
    }
    const st = decodeKcsStatus(r.at(-2) ?? 0xff);
    if (st.state === "IDLE") break; // the byte read was the dummy that ends the phase
    if (st.state !== "READ") fail(io, opts, st, `reading response byte ${n}`);
    bytes.push(r.at(-1) ?? 0);
  }
  return parseIpmiResponse(bytes, netfn, cmd);
}

/** The error path: the spec's error exit, then the typed error naming the state and the interface's code. */
function fail(io: Ioperm, opts: KcsOptions | undefined, st: KcsStatus, when: string): never {
  let code: number | undefined;
  try {
    code = kcsAbort(io, opts);
  } catch {
    code = undefined;
  }
  const why = code === undefined ? "and the error exit failed too" : `error code ${hex2(code)} (${KCS_ERROR_CODES[code] ?? "unknown"})`;
  throw new ControllerError(
    st.raw === 0xff ? "NO_DEVICE" : "CONTROLLER_ERROR",
    "kcs",
    st.raw === 0xff
      ? `kcs: the status register reads 0xFF ${when}: no KCS interface at this base`
      : `kcs: the interface went to ${st.state} ${when} (status ${hex2(st.raw)}), ${why}; the error exit left it idle: retry the request`,
    st.raw,
  );
}

/** Splits a KCS response message (NetFn/LUN, command, completion code, data) and checks it answers the request. */
export function parseIpmiResponse(bytes: readonly number[], netfn: number, cmd: number): IpmiResponse {
  if (bytes.length < 3)
    throw new ControllerError(
      "BAD_RESPONSE",
      "kcs",
      `kcs: a response of ${bytes.length} bytes; at least NetFn, command and completion code are expected`,
    );
  const [nf = 0, c = 0, cc = 0, ...data] = bytes;
  const res = { netfn: nf >> 2, lun: nf & 3, cmd: c, completionCode: cc, data };
  if (res.netfn !== (netfn | 1) || res.cmd !== cmd)
    throw new ControllerError(
      "BAD_RESPONSE",
      "kcs",
      `kcs: the response is for NetFn ${hex2(res.netfn)} command ${hex2(res.cmd)}, not the request's ${hex2(netfn)}/${hex2(cmd)}`,
    );
  return res;
}

/** Completion codes of IPMI v2.0 table 5-2 that users meet most. */
export const IPMI_COMPLETION: Record<number, string> = {
  0x00: "success",
  0xc0: "node busy",
  0xc1: "invalid command",
  0xc2: "invalid for this LUN",
  0xc3: "timeout",
  0xc4: "out of space",
  0xc5: "reservation cancelled",
  0xc6: "request data truncated",
  0xc7: "request data length invalid",
  0xc8: "request data field length limit exceeded",
  0xc9: "parameter out of range",
  0xca: "cannot return the number of requested bytes",
  0xcb: "requested sensor, data or record not present",
  0xcc: "invalid data field in request",
  0xcd: "command illegal for this sensor or record type",
  0xce: "response could not be provided",
  0xd4: "insufficient privilege level",
  0xd5: "command not supported in the present state",
  0xff: "unspecified error",
};

/** The text for a completion code. */
export const ipmiCompletionText = (cc: number): string => IPMI_COMPLETION[cc] ?? `completion code ${hex2(cc)}`;

/** Get Device ID (NetFn App 0x06, command 0x01), parsed. */
export interface IpmiDeviceId {
  deviceId: number;
  deviceRevision: number;
  /** "major.minor" as ipmitool prints it: minor in BCD, two digits. */
  firmwareRevision: string;
  /** "2.0": the IPMI version the BMC implements. */
  ipmiVersion: string;
  manufacturerId: number;
  productId: number;
  providesSdrs: boolean;
  /** False while the BMC updates its firmware or initialises (bit 7 of byte 3). */
  deviceAvailable: boolean;
  /** The additional device support bits, named as ipmitool names them. */
  additionalSupport: string[];
  /** The 4 auxiliary firmware revision bytes, when sent. */
  auxFirmwareRevision: number[] | null;
}

const SUPPORT = [
  "Sensor Device",
  "SDR Repository Device",
  "SEL Device",
  "FRU Inventory Device",
  "IPMB Event Receiver",
  "IPMB Event Generator",
  "Bridge",
  "Chassis Device",
];

/** Parses Get Device ID's response data (after the completion code): 11 bytes, or 15 with the aux revision. */
export function parseDeviceId(data: readonly number[]): IpmiDeviceId {
  if (data.length < 11)
    throw new ControllerError("BAD_RESPONSE", "kcs", `kcs: Get Device ID returned ${data.length} data bytes; 11 are expected`);
  const b = (i: number) => data[i] ?? 0;
  return {
    deviceId: b(0),
    deviceRevision: b(1) & 0x0f,
    providesSdrs: (b(1) & 0x80) !== 0,
    firmwareRevision: `${b(2) & 0x7f}.${hexDigits(b(3), 2)}`,
    deviceAvailable: (b(2) & 0x80) === 0,
    ipmiVersion: `${b(4) & 0x0f}.${b(4) >> 4}`,
    additionalSupport: SUPPORT.filter((_, i) => (b(5) >> i) & 1),
    manufacturerId: (b(6) | (b(7) << 8) | (b(8) << 16)) & 0xfffff,
    productId: b(9) | (b(10) << 8),
    auxFirmwareRevision: data.length >= 15 ? data.slice(11, 15) : null,
  };
}

/**
 * Get Device ID over KCS, parsed: what `ipmitool mc info` shows. Throws
 * ControllerError CONTROLLER_ERROR when the BMC answers with a completion code other than 0.
 * @example getDeviceId(io).ipmiVersion // "2.0"
 */
export function getDeviceId(io: Ioperm, opts?: KcsOptions): IpmiDeviceId {
  const r = kcsRequest(io, 0x06, 0x01, [], opts);
  if (r.completionCode !== 0)
    throw new ControllerError(
      "CONTROLLER_ERROR",
      "kcs",
      `kcs: Get Device ID answered ${hex2(r.completionCode)} (${ipmiCompletionText(r.completionCode)})`,
    );
  return parseDeviceId(r.data);
}
