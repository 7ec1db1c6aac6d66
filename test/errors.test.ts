// Host unit tests: every status maps to one IopermError whose message says what to do.
import { expect, test } from "bun:test";
import { errorFor, IopermError } from "../lib/errors.ts";
import { Errno, Status } from "../lib/status.ts";

test("each fixed status gives a typed error carrying op and port", () => {
  for (const [name, code] of Object.entries(Status)) {
    const e = errorFor(code, { op: "inb", port: 0x379 });
    expect(e).toBeInstanceOf(IopermError);
    expect(e.code).toBe(name as keyof typeof Status);
    expect(e.op).toBe("inb");
    expect(e.port).toBe(0x379);
    expect(e.errno).toBeUndefined();
    expect(e.message.length).toBeGreaterThan(20);
  }
});

test("errno statuses keep the errno", () => {
  const e = errorFor(-Errno.EPERM, { op: "grant", port: 0x378, count: 3 });
  expect(e.code).toBe("EPERM");
  expect(e.errno).toBe(1);
});

test("messages name the remedy", () => {
  const msg = (code: number, ctx = { op: "grant", port: 0x378, count: 3 }) => errorFor(code, ctx).message;
  expect(msg(-Errno.EPERM)).toContain("CAP_SYS_RAWIO");
  expect(msg(-Errno.EPERM)).toContain("run as root");
  expect(msg(-Errno.ENOSYS)).toContain("CONFIG_X86_IOPL_IOPERM");
  expect(msg(Status.NO_BACKEND, { op: "grant", port: 0x378, count: 3, diagnosis: { ioperm: 38, devport: 2 } } as never))
    .toMatch(/ioperm\/iopl: ENOSYS; \/dev\/port: ENOENT.*\/dev\/port is also missing/);
  expect(msg(Status.NOT_GRANTED, { op: "inb", port: 0x379 } as never)).toContain("grant(0x379");
  expect(msg(Status.WIDTH_UNSUPPORTED, { op: "inw", port: 0x1ce } as never)).toContain("byte accesses only");
  expect(msg(Status.IOPL_ACTIVE, { op: "release", port: 0x80, count: 1 } as never)).toContain("release() with no range");
  expect(msg(Status.NOT_ALLOWED, { op: "inb", port: 0xcf8 } as never)).toContain("AllowedPorts");
  expect(msg(Status.DRIVER_NOT_INSTALLED, { op: "grant", port: 0x378, count: 3 })).toContain("ioperm driver install");
  expect(msg(Status.DRIVER_ACCESS_DENIED, { op: "grant", port: 0x378, count: 3 })).toContain("run elevated");
});
