// Host tests of a prepared batch's lifetime: free(), `using`, close(), and the
// typed error when too many are alive. Nothing here reaches a port: this host
// grants none, so a run that gets past its lifetime checks is refused NOT_GRANTED.
// Thread safety of the native side (run and free racing) is zig/src/prepared.zig's
// test "threads running and freeing the same handles".
import { expect, test } from "bun:test";
import { native } from "../lib/ffi.ts";
import { IopermError, open, ops, type PreparedBatch } from "../lib/index.ts";
import { errorCode as code } from "./error-code.ts";

/** Prepared batches alive in this process, as the library counts them. */
const alive = () => native().ioperm_prepared_alive();

test("free(): the batch's copy is gone, run() throws FREED, a second free() does nothing", () => {
  using io = open();
  const before = alive();
  const b = io.prepare([ops.outb(0x80, 1), ops.inb(0x80)]);
  expect(alive()).toBe(before + 1);
  expect(b.freed).toBe(false);
  expect(code(() => b.run())).toBe("NOT_GRANTED");
  b.free();
  expect(b.freed).toBe(true);
  expect(alive()).toBe(before);
  let err: unknown;
  try {
    b.run();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(IopermError);
  expect((err as IopermError).code).toBe("FREED");
  expect((err as IopermError).message).toMatch(/^run\(\): this prepared batch was freed .*prepare\(\) it again/);
  b.free();
  expect(alive()).toBe(before);
});

test("`using` frees a batch at the end of its scope", () => {
  using io = open();
  const before = alive();
  let kept: PreparedBatch | undefined;
  {
    using b = io.prepare([ops.inb(0x80)]);
    kept = b;
    expect(alive()).toBe(before + 1);
  }
  expect(kept.freed).toBe(true);
  expect(alive()).toBe(before);
  expect(code(() => kept.run())).toBe("FREED");
});

test("200,000 prepares in a loop with `using` never run out of slots", () => {
  using io = open();
  const before = alive();
  const list = [ops.outb(0x378, 0x55), ops.inb(0x379)];
  for (let i = 0; i < 200_000; i++) {
    using b = io.prepare(list);
    if (i % 50_000 === 0) expect(code(() => b.run())).toBe("NOT_GRANTED");
  }
  expect(alive()).toBe(before);
});

test("close() frees every batch its handle prepared", () => {
  const io = open();
  const before = alive();
  const batches = [io.prepare([ops.inb(0x80)]), io.prepare([ops.inw(0x1ce)]), io.prepare([])];
  batches[1]?.free();
  expect(alive()).toBe(before + 2);
  io.close();
  expect(alive()).toBe(before);
  for (const b of batches) {
    expect(b.freed).toBe(true);
    expect(code(() => b.run())).toBe("FREED");
    b.free();
  }
  expect(alive()).toBe(before);
});

test("too many alive batches: TOO_MANY_PREPARED says how many and how to free them; freeing makes room", () => {
  using io = open();
  const before = alive();
  const held: PreparedBatch[] = [];
  let err: unknown;
  // The library holds 65,536; the bound only stops a library that would never refuse.
  while (held.length <= 70_000) {
    try {
      held.push(io.prepare([ops.inb(0x80)]));
    } catch (e) {
      err = e;
      break;
    }
  }
  expect(err).toBeInstanceOf(IopermError);
  const e = err as IopermError;
  expect(e.code).toBe("TOO_MANY_PREPARED");
  expect(e.op).toBe("prepare");
  expect(before + held.length).toBe(65_536);
  expect(e.message).toContain("prepare(): 65536 prepared batches are alive");
  expect(e.message).toContain("batch.free()");
  expect(e.message).toContain("`using batch = io.prepare(...)`");
  for (const b of held) b.free();
  expect(alive()).toBe(before);
  using again = io.prepare([ops.inb(0x80)]);
  expect(code(() => again.run())).toBe("NOT_GRANTED");
});
