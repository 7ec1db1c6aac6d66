// Host tests of the API where no port can be reached (this kernel: no ioperm, no
// /dev/port). They check that refusals are typed and that nothing executes: an
// executed in/out on an ungranted port would kill this test process.
import { expect, test } from "bun:test";
import { errorFor, firstMissing } from "../lib/errors.ts";
import { IopermError, open, ops } from "../lib/index.ts";
import { Status } from "../lib/status.ts";
import { expectedRefusal } from "./kernel.ts";
import { errorCode as code } from "./error-code.ts";
import { labCommand } from "../lib/where.ts";

test("ungranted ports are refused with NOT_GRANTED at every width and path", () => {
  using io = open();
  expect(io.grants()).toEqual({ backend: "none", all: false });
  expect(code(() => io.inb(0x80))).toBe("NOT_GRANTED");
  expect(code(() => io.inw(0x1ce))).toBe("NOT_GRANTED");
  expect(code(() => io.inl(0xcfc))).toBe("NOT_GRANTED");
  expect(code(() => io.outb(0x80, 1))).toBe("NOT_GRANTED");
  expect(code(() => io.outl(0xcf8, 0x80000000))).toBe("NOT_GRANTED");
  expect(code(() => io.readInto(0x511, new Uint8Array(4)))).toBe("NOT_GRANTED");
  expect(code(() => io.writeFrom(0xe9, new Uint8Array([65])))).toBe("NOT_GRANTED");
  expect(code(() => io.batch([ops.outw(0x510, 0), ops.inb(0x511)]))).toBe("NOT_GRANTED");
  expect(code(() => io.port8(0x378).read())).toBe("NOT_GRANTED");
  expect(io.isGranted(0x378)).toBe(false);
});

test("an ungranted wide access names the first byte this thread lacks and the grant that covers it; values in hex with the wider op", () => {
  using io = open();
  const says = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  // Nothing is held on this host (grant() is refused here), so the first byte is the access's own; the lab test
  // test/lab/messages.lab.ts grants 0x378-0x37A for real and sees 0x37B named.
  expect(says(() => io.inl(0x378))).toStartWith(
    "inl(0x378): port 0x378 is not granted to this thread (a 32-bit access at 0x378 uses ports 0x378-0x37B)",
  );
  expect(says(() => io.inl(0x378))).toContain("Call grant(0x378, 4) first");
  expect(says(() => io.batch([ops.inb(0x80), ops.outw(0x1ce, 1)]))).toStartWith("batch[0](0x80): port 0x80 is not granted");
  expect(says(() => io.outb(0x378, 4660))).toBe("value 0x1234 does not fit 8 bits (0x00-0xFF); use outw for 16 bits");
});

test.skipIf(expectedRefusal === null)(
  `a refused grant names the kernel's reason and how to go on${expectedRefusal === null ? " (skipped: this kernel grants ports to this process)" : ""}`,
  () => {
    using io = open();
    let err: unknown;
    try {
      io.grant(0x378, 3);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IopermError);
    const e = err as IopermError;
    expect(e.code as string).toBe(expectedRefusal as string);
    expect(e.op).toBe("grant");
    expect(e.port).toBe(0x378);
    if (expectedRefusal === "NO_BACKEND") expect(e.message).toContain(labCommand());
  },
);

test("arguments are checked before the native call", () => {
  using io = open();
  expect(() => io.inb(-1)).toThrow(RangeError);
  expect(() => io.outb(0x378, 0x1ff)).toThrow(RangeError);
  expect(() => io.outw(0x378, 1.25)).toThrow(TypeError);
  expect(() => io.grant(0xffff, 2)).toThrow(RangeError);
  expect(() => io.readInto(0x80, new Float64Array(2) as never)).toThrow(TypeError);
  expect(() => io.port16(0xffff)).toThrow(RangeError);
  expect(() => io.port8(0x80, "x" as never)).toThrow(RangeError);
  expect(() => open({ backend: "magic" as never })).toThrow(RangeError);
});

test("a closed handle refuses every call with CLOSED; close is idempotent", () => {
  const io = open();
  io.close();
  io.close();
  expect(io.closed).toBe(true);
  expect(code(() => io.inb(0x80))).toBe("CLOSED");
  expect(code(() => io.grant(0x80))).toBe("CLOSED");
});

// On this host nothing can be granted, so this shows only that a Worker is refused
// without a crash; whether grants are per thread or per process is shown in the
// lab (test/lab/safety.lab.ts: a Worker is refused while its parent holds the grant).
test("a Worker without a grant gets NOT_GRANTED, and this process goes on", async () => {
  const w = new Worker(new URL("./fixtures/worker-ungranted.ts", import.meta.url).href);
  const msg = await new Promise<{ code: string; message: string }>((resolve, reject) => {
    w.onmessage = (e) => resolve(e.data);
    w.onerror = (e) => reject(e);
  });
  w.terminate();
  expect(msg.code).toBe("NOT_GRANTED");
  expect(msg.message).toContain("a Worker must grant its own");
});

test("a refused wide access names the byte that is missing, the span it covers, and the grant that fixes it", () => {
  // After grant(0x378, 3): 0x378-0x37A held, 0x37B not.
  const held = (p: number) => p >= 0x378 && p < 0x37b;
  expect(firstMissing(0x378, 4, held)).toBe(0x37b);
  expect(firstMissing(0x379, 2, held)).toBe(0x379); // all held: a refusal the grants do not explain names the access port
  expect(firstMissing(0x377, 2, held)).toBe(0x377);
  const e = errorFor(Status.NOT_GRANTED, { op: "inl", port: 0x378, bytes: 4, missing: 0x37b });
  expect(e.message).toBe(
    "inl(0x378): port 0x37B is not granted to this thread (a 32-bit access at 0x378 uses ports 0x378-0x37B), so the instruction was not run. " +
      "Call grant(0x378, 4) first; grants belong to the calling thread, so a Worker must grant its own",
  );
  expect(e.port).toBe(0x378);
});
