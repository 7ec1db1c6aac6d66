// Host unit tests: every code maps to one IopermError whose message carries its
// own remedy (a table of what each must say, not a length or a name check).
import { expect, test } from "bun:test";
import { errorFor, IopermError } from "../lib/errors.ts";
import { open, ops } from "../lib/index.ts";
import { Errno, Status } from "../lib/status.ts";
import { commandFor } from "../lib/where.ts";

/** The words each code's message must contain: its remedy, or the fact the user acts on. */
const mustSay: Record<keyof typeof Status | keyof typeof Errno, string> = {
  NOT_GRANTED: "Call grant(0x379, <count>) first",
  NO_BACKEND: "run it inside the lab VM",
  RANGE: "ports are 0..0xFFFF",
  BAD_WIDTH: "width must be 8, 16 or 32 bits",
  BAD_OP: "build ops with ops.*",
  WIDTH_UNSUPPORTED: 'open({ backend: "direct" })',
  IOPL_ACTIVE: "call release() with no range",
  BACKEND_MISMATCH: "release() them before switching backends",
  DRIVER_NOT_INSTALLED: commandFor("driver install"),
  DRIVER_ACCESS_DENIED: "run elevated",
  NOT_ALLOWED: "Parameters\\AllowedPorts",
  DRIVER_VERSION: "reinstall it from this package",
  DRIVER_IO: commandFor("driver status"),
  UNSUPPORTED: "not supported on",
  BAD_BUFFER: "misaligned buffer",
  LOCK_TIMEOUT: "wait longer with { timeoutMs }",
  DRIVER_MISMATCH: "not the driver this package was built with",
  TOO_MANY_PREPARED: "batch.free(), or `using batch = io.prepare(...)`",
  TIMEOUT: "longer timeout",
  TOO_LONG: "split the work into several batches",
  EPERM: "CAP_SYS_RAWIO",
  ENOENT: "/dev/port does not exist",
  EIO: "I/O error",
  ENXIO: "device is not there",
  EBADF: "open() a new handle",
  EACCES: "/dev/port is not open to this user",
  EFAULT: "could not read or write",
  EBUSY: "another process holds it exclusively",
  ENODEV: "no such device",
  EINVAL: "use grantAll() (iopl) for higher ports",
  ENOSYS: "CONFIG_X86_IOPL_IOPERM",
};

test("every fixed status and errno names its remedy, and carries code, op, port and errno", () => {
  const all = { ...Status, ...Object.fromEntries(Object.entries(Errno).map(([k, v]) => [k, -v])) } as Record<keyof typeof mustSay, number>;
  expect(Object.keys(all).sort()).toEqual(Object.keys(mustSay).sort());
  for (const [name, code] of Object.entries(all)) {
    // op "inb": not a grant, so no system diagnosis is mixed in; the code's own remedy must stand.
    const e = errorFor(code, { op: "inb", port: 0x379 });
    expect(e).toBeInstanceOf(IopermError);
    expect({ name, code: e.code }).toEqual({ name, code: name as never });
    expect({ name, op: e.op, port: e.port }).toEqual({ name, op: "inb", port: 0x379 });
    expect({ name, errno: e.errno }).toEqual({ name, errno: code > -4096 ? -code : undefined });
    expect({ name, says: e.message.includes(mustSay[name as keyof typeof mustSay]) }).toEqual({ name, says: true });
    expect(e.message.startsWith("inb(0x379)")).toBe(true);
  }
});

test("an errno without a name keeps the kernel's number", () => {
  const e = errorFor(-71, { op: "inb", port: 0x80 });
  expect(e.code).toBe("ERRNO_71");
  expect(e.errno).toBe(71);
});

test("a closed handle: every call throws CLOSED, naming the call and the remedy, and touches nothing", () => {
  const io = open();
  io.close();
  expect(io.closed).toBe(true);
  for (const [op, call] of [
    ["inb", () => io.inb(0x80)],
    ["outb", () => io.outb(0x80, 1)],
    ["grant", () => io.grant(0x378, 3)],
    ["batch", () => io.batch([ops.inb(0x80)])],
  ] as const) {
    let err: unknown;
    try {
      call();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IopermError);
    expect({ code: (err as IopermError).code, op: (err as IopermError).op, message: (err as IopermError).message }).toEqual({
      code: "CLOSED",
      op,
      message: `${op}(): this handle was closed; open() a new one`,
    });
  }
});

test("NO_BACKEND names what each backend answered", () => {
  const m = errorFor(Status.NO_BACKEND, { op: "grant", port: 0x378, count: 3, diagnosis: { osError: 38, devportErrno: 2 } }).message;
  expect(m).toMatch(/ioperm\/iopl: ENOSYS; \/dev\/port: ENOENT.*\/dev\/port is also missing/);
});

test("a timeout carries the step's index and the last value read, and says both", () => {
  const e = errorFor(Status.TIMEOUT, { op: "batch[2]", port: 0x64, index: 2, value: 0x1d });
  expect({ code: e.code, index: e.index, value: e.value, port: e.port }).toEqual({ code: "TIMEOUT", index: 2, value: 0x1d, port: 0x64 });
  expect(e.message).toContain("batch[2](0x64): the wait timed out");
  expect(e.message).toContain("last value read was 0x1D");
});
