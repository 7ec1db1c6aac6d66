import { type ErrnoName, type StatusName, errnoName, statusErrno, statusName } from "./status.ts";

/** Codes raised by the TypeScript layer itself, beside the native statuses. */
export type LocalCode = "LOAD_FAILED" | "ABI_MISMATCH" | "CLOSED";
export type IopermCode = StatusName | ErrnoName | `ERRNO_${number}` | LocalCode;

/** What failed, for the message and for callers that branch on it. */
export interface ErrorContext {
  op: string;
  port?: number;
  count?: number;
  backend?: string;
  /** errno of each backend's attempt at the last grant, when it failed. */
  diagnosis?: { ioperm?: number; devport?: number };
}

/**
 * The one error class of this library. `code` is stable and machine-readable;
 * `message` says what went wrong and what to do about it.
 */
export class IopermError extends Error {
  override name = "IopermError";
  readonly code: IopermCode;
  readonly errno: number | undefined;
  readonly op: string;
  readonly port: number | undefined;

  constructor(code: IopermCode, message: string, ctx: ErrorContext, errno?: number) {
    super(message);
    this.code = code;
    this.errno = errno;
    this.op = ctx.op;
    this.port = ctx.port;
  }
}

export const hex = (n: number, digits = 0): string => `0x${n.toString(16).toUpperCase().padStart(digits, "0")}`;

const where = (ctx: ErrorContext): string =>
  ctx.port === undefined
    ? `${ctx.op}()`
    : ctx.count === undefined
      ? `${ctx.op}(${hex(ctx.port)})`
      : `${ctx.op}(${hex(ctx.port)}, ${ctx.count})`;

const LAB = "run it inside the lab VM: bun run lab -- bun <script>";
const ROOT = "run as root, or give Bun the capability: sudo setcap cap_sys_rawio+ep $(readlink -f $(which bun))";

function diagnosisText(d: ErrorContext["diagnosis"]): string {
  if (!d) return "";
  if (process.platform === "win32") return d.ioperm ? ` (Win32 error ${d.ioperm})` : "";
  const parts: string[] = [];
  if (d.ioperm) parts.push(`ioperm/iopl: ${errnoName(d.ioperm)}`);
  if (d.devport) parts.push(`/dev/port: ${errnoName(d.devport)}`);
  return parts.length ? ` (${parts.join("; ")})` : "";
}

/** Remedy for each status, given where it happened. */
function explain(code: IopermCode, ctx: ErrorContext): string {
  const at = where(ctx);
  const tried = diagnosisText(ctx.diagnosis);
  switch (code) {
    case "NOT_GRANTED":
      return `${at}: port ${hex(ctx.port ?? 0)} is not granted to this thread, so the instruction was not run. ` +
        `Call grant(${hex(ctx.port ?? 0)}, <count>) first; grants belong to the calling thread, so a Worker must grant its own`;
    case "EPERM":
    case "EACCES":
      return `${at} was refused (${code})${tried}: port I/O needs CAP_SYS_RAWIO; ${ROOT}. ` +
        `A kernel in lockdown (Secure Boot) refuses it to root too`;
    case "ENOSYS":
      return `${at}: this kernel was built without CONFIG_X86_IOPL_IOPERM (ENOSYS)${tried}; ` +
        `try open({ backend: "devport" }) if /dev/port exists, or ${LAB}`;
    case "NO_BACKEND":
      return `${at}: no way to reach I/O ports here${tried}: this kernel was built without CONFIG_X86_IOPL_IOPERM ` +
        `and /dev/port is also missing; ${LAB}`;
    case "ENOENT":
      return `${at}: /dev/port does not exist${tried} (kernel without CONFIG_DEVPORT); use the direct backend or ${LAB}`;
    case "EINVAL":
      return `${at} was rejected by the kernel (EINVAL)${tried}: kernels before 5.5 grant only ports below 0x400 ` +
        `through ioperm; use grantAll() (iopl) for higher ports`;
    case "RANGE":
      return `${at}: out of range: ports are 0..0xFFFF, a range must not pass 0x10000, and values must fit their width`;
    case "BAD_WIDTH":
      return `${at}: width must be 8, 16 or 32 bits`;
    case "BAD_OP":
      return `${at}: malformed batch op`;
    case "WIDTH_UNSUPPORTED":
      return `${at}: /dev/port performs byte accesses only (a 2-byte read is two inb at consecutive ports, ` +
        `not one inw), so 16/32-bit I/O needs the direct backend: open({ backend: "direct" }) as root`;
    case "IOPL_ACTIVE":
      return `${at}: grantAll() is in force, so a partial release cannot take effect; call release() with no range`;
    case "BACKEND_MISMATCH":
      return `${at}: this thread already holds grants through the ${ctx.backend ?? "other"} backend; ` +
        `release() them before switching backends`;
    case "DRIVER_NOT_INSTALLED":
      return `${at}: the ioperm driver is not installed or not running${tried}; install it from an elevated prompt: bunx ioperm driver install`;
    case "DRIVER_ACCESS_DENIED":
      return `${at}: the ioperm driver admits only SYSTEM and Administrators${tried}; run elevated`;
    case "NOT_ALLOWED":
      return `${at}: the driver's allowlist refuses this port; an administrator can add it to ` +
        `HKLM\\SYSTEM\\CurrentControlSet\\Services\\ioperm\\Parameters\\AllowedPorts and restart the driver`;
    case "DRIVER_VERSION":
      return `${at}: the installed driver speaks another protocol version; reinstall it from this package`;
    case "DRIVER_IO":
      return `${at}: DeviceIoControl failed${tried}; check the driver with: bunx ioperm driver status`;
    case "UNSUPPORTED":
      return ctx.op === "open"
        ? `${at}: that backend does not exist on ${process.platform} (driver: Windows; devport: Linux; direct: Linux, and x86 Windows)`
        : `${at}: not supported on ${process.platform}${ctx.op.startsWith("driver") || /Driver$/.test(ctx.op) ? " (the driver is Windows-only)" : ""}`;
    case "BAD_BUFFER":
      return `${at}: bad buffer`;
    case "CLOSED":
      return `${at}: this handle was closed; open() a new one`;
    default:
      return `${at} failed (${code})${tried}`;
  }
}

/** Builds the error for a native status. On Windows `errno` is the Win32 error behind it. */
export function errorFor(status: number, ctx: ErrorContext): IopermError {
  const code = statusName(status);
  const errno = process.platform === "win32" ? ctx.diagnosis?.ioperm : statusErrno(status);
  return new IopermError(code, explain(code, ctx), ctx, errno);
}

export function localError(code: LocalCode, message: string, op: string): IopermError {
  return new IopermError(code, message, { op });
}
