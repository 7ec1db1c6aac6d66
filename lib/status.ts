/**
 * Status codes returned by the native library. zig/src/status.zig is the source
 * of truth; test/status.test.ts checks this copy against the loaded library.
 */
export const Status = {
  NOT_GRANTED: -5001,
  NO_BACKEND: -5002,
  RANGE: -5003,
  BAD_WIDTH: -5004,
  BAD_OP: -5005,
  WIDTH_UNSUPPORTED: -5006,
  IOPL_ACTIVE: -5007,
  BACKEND_MISMATCH: -5008,
  DRIVER_NOT_INSTALLED: -5009,
  DRIVER_ACCESS_DENIED: -5010,
  NOT_ALLOWED: -5011,
  DRIVER_VERSION: -5012,
  DRIVER_IO: -5013,
  UNSUPPORTED: -5014,
  BAD_BUFFER: -5015,
  LOCK_TIMEOUT: -5021,
  DRIVER_MISMATCH: -5020,
  TOO_MANY_PREPARED: -5016,
  TIMEOUT: -5017,
  TOO_LONG: -5018,
} as const;

/** The name of a fixed native status code. */
export type StatusName = keyof typeof Status;

/** Linux x86_64 errno values the library can surface. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOSYS: 38,
} as const;

/** The name of an errno the library can surface. */
export type ErrnoName = keyof typeof Errno;

const statusByCode = new Map<number, StatusName>(Object.entries(Status).map(([k, v]) => [v, k as StatusName]));
const errnoByNumber = new Map<number, ErrnoName>(Object.entries(Errno).map(([k, v]) => [v, k as ErrnoName]));

/** Name of a negative status: a fixed code ("NOT_GRANTED") or an errno ("EPERM", "ERRNO_71"). */
export function statusName(code: number): StatusName | ErrnoName | `ERRNO_${number}` {
  const fixed = statusByCode.get(code);
  if (fixed) return fixed;
  return errnoName(-code);
}

/** The name of an errno ("EPERM"), or ERRNO_<n> for one without a name here. */
export function errnoName(errno: number): ErrnoName | `ERRNO_${number}` {
  return errnoByNumber.get(errno) ?? `ERRNO_${errno}`;
}

/** The errno behind a status, when it is one (fixed codes sit below -4095). */
export function statusErrno(code: number): number | undefined {
  return code < 0 && code > -4096 ? -code : undefined;
}
