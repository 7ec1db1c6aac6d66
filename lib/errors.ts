import { MAX_CALL_US, MAX_STEP_US } from "./batch.ts";
import { type Diagnosis, causes, explainCauses, readFacts } from "./diagnose.ts";
import { type ErrnoName, type StatusName, errnoName, statusErrno, statusName } from "./status.ts";
import { commandFor, labCommand, place } from "./where.ts";
import { hex } from "./format.ts";

/** Codes raised by the TypeScript layer itself, beside the native statuses. */
export type LocalCode = "LOAD_FAILED" | "ABI_MISMATCH" | "CLOSED" | "FREED";
/** Every IopermError code: a native status, an errno name, an unnamed errno, or one of lib/'s own. */
export type IopermCode = StatusName | ErrnoName | `ERRNO_${number}` | LocalCode;

/** What failed, for the message and for callers that branch on it. */
export interface ErrorContext {
  op: string;
  port?: number;
  count?: number;
  backend?: string;
  /** ppdev: the device the handle claims through. */
  device?: string;
  /** A batch: the index of the step refused or timed out in the caller's list. */
  index?: number;
  /** TIMEOUT: the last value the wait read. */
  value?: number;
  /** Why the last grant (Windows: driver call) failed, as the native library recorded it. */
  diagnosis?: Diagnosis;
  /** Bytes one access spans (2 for inw, 4 for inl), when more than one. */
  bytes?: number;
  /** NOT_GRANTED: the first port of the access this thread does not hold (see firstMissing). */
  missing?: number;
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
  /** A batch: the index of the step refused or timed out, in the list given. */
  readonly index: number | undefined;
  /** TIMEOUT: the last value the wait read (so `value & mask` shows which bits never came). */
  readonly value: number | undefined;

  constructor(code: IopermCode, message: string, ctx: ErrorContext, errno?: number) {
    super(message);
    this.code = code;
    this.errno = errno;
    this.op = ctx.op;
    this.port = ctx.port;
    this.index = ctx.index;
    this.value = ctx.value;
  }
}

const where = (ctx: ErrorContext): string =>
  ctx.port === undefined
    ? `${ctx.op}()`
    : ctx.count === undefined
      ? `${ctx.op}(${hex(ctx.port)})`
      : `${ctx.op}(${hex(ctx.port)}, ${ctx.count})`;

const lab = () => `run it inside the lab VM: ${labCommand()}`;
/** How to get the library back: a checkout builds it, an installed package is reinstalled. */
const rebuild = () =>
  place === "checkout"
    ? "build it with `npm run build`"
    : place === "compiled"
      ? "rebuild the executable"
      : "reinstall the package (bun add ioperm)";

/**
 * The first port of port..port+bytes-1 that `held` says this thread lacks, or
 * `port` when it holds them all (a refusal the grants do not explain). An
 * access is refused as a whole, but the user needs the byte that is missing:
 * after grant(0x378, 3), inl(0x378) lacks 0x37B.
 */
export function firstMissing(port: number, bytes: number, held: (port: number) => boolean): number {
  for (let p = port; p < port + bytes; p++) if (!held(p)) return p;
  return port;
}
const ROOT = "run as root, or give Bun the capability: sudo setcap cap_sys_rawio+ep $(readlink -f $(which bun))";

/** What the system answered, for the message: " (ioperm/iopl: EPERM; /dev/port: EACCES)". */
function diagnosisText(ctx: ErrorContext): string {
  const d = ctx.diagnosis;
  if (!d) return "";
  if (process.platform === "win32") return d.osError ? ` (Win32 error ${d.osError})` : "";
  const parts: string[] = [];
  // A ppdev handle's first backend is its claim of the device, not ioperm.
  if (d.osError) parts.push(`${ctx.device ?? "ioperm/iopl"}: ${errnoName(d.osError)}`);
  if (d.devportErrno) parts.push(`/dev/port: ${errnoName(d.devportErrno)}`);
  return parts.length ? ` (${parts.join("; ")})` : "";
}

/**
 * What was found on this system for a refused grant (Linux): the causes present
 * and their remedies (lib/diagnose.ts), or "" when none shows.
 */
function causesText(ctx: ErrorContext): string {
  if (process.platform !== "linux" || !/^grant/.test(ctx.op) || ctx.device) return "";
  const last = ctx.port === undefined ? undefined : ctx.port + (ctx.count ?? 1) - 1;
  return explainCauses(causes(readFacts(), { ...ctx.diagnosis, lastPort: last }));
}

/** "<fallback>", or the causes found when there are any. */
const found = (ctx: ErrorContext, fallback: string) => causesText(ctx) || fallback;

type Explain = (at: string, ctx: ErrorContext, tried: string) => string;

/**
 * The remedy for every named code. A Record, not a switch with `default:`, so
 * the compiler names the code a new status forgot.
 */
const remedies: Record<StatusName | ErrnoName | LocalCode, Explain> = {
  NOT_GRANTED: (at, ctx) => {
    const port = ctx.port ?? 0;
    const bytes = ctx.bytes ?? 1;
    const span = bytes > 1 ? ` (a ${bytes * 8}-bit access at ${hex(port)} uses ports ${hex(port)}-${hex(port + bytes - 1)})` : "";
    return (
      `${at}: port ${hex(ctx.missing ?? port)} is not granted to this thread${span}, so the instruction was not run. ` +
      `Call grant(${hex(port)}, ${bytes > 1 ? bytes : "<count>"}) first; grants belong to the calling thread, so a Worker must grant its own`
    );
  },
  EPERM: (at, ctx, tried) => `${at} was refused (EPERM)${tried}: ${found(ctx, `port I/O needs CAP_SYS_RAWIO; ${ROOT}`)}`,
  EACCES: (at, ctx, tried) =>
    ctx.device
      ? `${at}: ${ctx.device} is not open to this user (EACCES): join its group, lp on Debian: sudo usermod -aG lp $USER, then log in again`
      : `${at} was refused (EACCES)${tried}: ${found(ctx, `/dev/port is not open to this user; ${ROOT}`)}`,
  ENOSYS: (at, ctx, tried) =>
    `${at} was refused (ENOSYS)${tried}: ${found(ctx, `this kernel was built without CONFIG_X86_IOPL_IOPERM; try open({ backend: "devport" }) if /dev/port exists, or ${lab()}`)}`,
  NO_BACKEND: (at, _ctx, tried) =>
    `${at}: no way to reach I/O ports here${tried}: this kernel was built without CONFIG_X86_IOPL_IOPERM ` +
    `and /dev/port is also missing; ${lab()}`,
  ENOENT: (at, _ctx, tried) =>
    `${at}: /dev/port does not exist${tried} (kernel without CONFIG_DEVPORT); use the direct backend or ${lab()}`,
  EINVAL: (at, ctx, tried) =>
    `${at} was rejected by the kernel (EINVAL)${tried}: ${found(ctx, "kernels before 5.5 grant only ports below 0x400 through ioperm; use grantAll() (iopl) for higher ports")}`,
  EIO: (at, _ctx, tried) => `${at}: the device reported an I/O error (EIO)${tried}`,
  ENXIO: (at, _ctx, tried) => `${at}: no such device (ENXIO)${tried}: the port's device is not there`,
  EBADF: (at, _ctx, tried) => `${at}: the device file was closed under this handle (EBADF)${tried}; open() a new handle`,
  EFAULT: (at) => `${at}: a buffer the kernel could not read or write (EFAULT)`,
  EBUSY: (at, ctx, tried) =>
    `${at}: ${ctx.device ?? "the device"} is busy (EBUSY)${tried}: another process holds it exclusively (PPEXCL), or another thread of this one holds it; wait for it, stop it, or release() it in that thread`,
  ENODEV: (at, _ctx, tried) => `${at}: no such device (ENODEV)${tried}`,
  RANGE: (at) => `${at}: out of range: ports are 0..0xFFFF, a range must not pass 0x10000, and values must fit their width`,
  BAD_WIDTH: (at) => `${at}: width must be 8, 16 or 32 bits`,
  BAD_OP: (at) =>
    `${at}: malformed batch op: an unknown kind (0 read, 1 write, 2 wait, 3 delay, 4 pulse), a delay that names a port or width, or a wait or pulse without its parameter slot; build ops with ops.*`,
  WIDTH_UNSUPPORTED: (at) =>
    `${at}: /dev/port performs byte accesses only (a 2-byte read is two inb at consecutive ports, ` +
    `not one inw), so 16/32-bit I/O needs the direct backend: open({ backend: "direct" }) as root`,
  IOPL_ACTIVE: (at) => `${at}: grantAll() is in force, so a partial release cannot take effect; call release() with no range`,
  BACKEND_MISMATCH: (at, ctx) =>
    `${at}: this thread already holds grants through the ${ctx.backend ?? "other"} backend; release() them before switching backends`,
  DRIVER_NOT_INSTALLED: (at, _ctx, tried) =>
    `${at}: the ioperm driver is not installed or not running${tried}; install it from an elevated prompt: ${commandFor("driver install")}`,
  DRIVER_ACCESS_DENIED: (at, _ctx, tried) => `${at}: the ioperm driver admits only SYSTEM and Administrators${tried}; run elevated`,
  NOT_ALLOWED: (at) =>
    `${at}: the driver's allowlist refuses this port; an administrator can add it to ` +
    "HKLM\\SYSTEM\\CurrentControlSet\\Services\\ioperm\\Parameters\\AllowedPorts and restart the driver",
  DRIVER_VERSION: (at) => `${at}: the installed driver speaks another protocol version; reinstall it from this package`,
  DRIVER_IO: (at, _ctx, tried) => `${at}: DeviceIoControl failed${tried}; check the driver with: ${commandFor("driver status")}`,
  UNSUPPORTED: (at, ctx) =>
    ctx.op === "open"
      ? `${at}: that backend does not exist on ${process.platform} (driver: Windows; devport: Linux; direct: Linux, and x86 Windows)`
      : `${at}: not supported on ${process.platform}${ctx.op.startsWith("driver") || /Driver$/.test(ctx.op) ? " (the driver is Windows-only)" : ""}`,
  BAD_BUFFER: (at) => `${at}: a null or misaligned buffer, or a count that overflows it`,
  LOCK_TIMEOUT: (at, ctx) =>
    `${at}: the bus lock ${ctx.device ?? ""} was still held by another program (or another thread of this one) when the wait ran out; ` +
    "let that transaction finish and try again, or wait longer with { timeoutMs }",
  DRIVER_MISMATCH: (at) =>
    `${at}: that ioperm.sys is not the driver this package was built with (its SHA-256 differs, or another process has it open for writing), so nothing was installed; ` +
    "install the package's own driver (no PATH), or rebuild with npm run build:windows",
  TOO_MANY_PREPARED: (at, ctx) =>
    `${at}: ${ctx.count ?? "too many"} prepared batches are alive in this process, the most it can hold; ` +
    "free each one when you are done with it: batch.free(), or `using batch = io.prepare(...)` to free it at the end of the scope " +
    "(closing the handle frees its batches too)",
  TIMEOUT: (at, ctx) =>
    `${at}: the wait timed out: (value & mask) never equalled expect; the last value read was ${hex(ctx.value ?? 0)}. ` +
    `The steps before it ran, none after it. Check that the device is there and in the state the wait expects, or give it a longer timeout (at most ${MAX_STEP_US} us)`,
  TOO_LONG: (at) =>
    `${at}: over a cap, so nothing ran: one wait, delay or pulse may take at most ${MAX_STEP_US} us, and the timed steps of one call ` +
    `at most ${MAX_CALL_US} us in all; split the work into several batches`,
  CLOSED: (at) => `${at}: this handle was closed; open() a new one`,
  FREED: (at) =>
    `${at}: this prepared batch was freed (by free(), the end of its \`using\` scope, or close() of its handle); prepare() it again`,
  LOAD_FAILED: (at) => `${at}: the native library could not be loaded; ${rebuild()}`,
  ABI_MISMATCH: (at) => `${at}: the native library is from another version; ${rebuild()}`,
};

/** Remedy for a code, given where it happened; an unnamed errno gets the kernel's answer and the diagnosis. */
function explain(code: IopermCode, ctx: ErrorContext): string {
  const at = where(ctx);
  const tried = diagnosisText(ctx);
  const f = remedies[code as keyof typeof remedies];
  return f ? f(at, ctx, tried) : `${at} failed (${code})${tried}`;
}

/** Builds the error for a native status. On Windows `errno` is the Win32 error behind it. */
export function errorFor(status: number, ctx: ErrorContext): IopermError {
  const code = statusName(status);
  const errno = process.platform === "win32" ? ctx.diagnosis?.osError : statusErrno(status);
  return new IopermError(code, explain(code, ctx), ctx, errno);
}

/** An IopermError raised by lib/ itself (loading, a closed handle). */
export function localError(code: LocalCode, message: string, op: string): IopermError {
  return new IopermError(code, message, { op });
}
