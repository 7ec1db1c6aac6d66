// The bus locks (lib/lock.ts, zig/src/buslock.zig) on the host: a real flock on
// /run/lock between real processes, witnessed by the order of characters two
// writers put in one file. Port I/O plays no part in the lock itself; the lab
// (test/lab/lock.lab.ts) shows the same through a device's host file.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUSES, busLockName, lockBus, MAX_LOCK_TIMEOUT_MS, open } from "../lib/index.ts";
import { lineReader } from "./lab/witness.ts";
import { nativeBusLockNames } from "./lock-names.ts";

const dir = mkdtempSync(join(tmpdir(), "ioperm-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const writer = (...args: string[]) =>
  Bun.spawn([process.execPath, "test/fixtures/bus-lock-writer.ts", ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
test("the bus names and their lock files come from the library (one table, zig/src/buslock.zig)", () => {
  expect(BUSES.map(busLockName)).toEqual(nativeBusLockNames());
  expect(busLockName("smbus")).toBe("/run/lock/ioperm-smbus.lock");
});

/** Starts two writers of `text`s on `buses` at the same moment (each waits for "go"); the file they wrote. */
async function race(file: string, buses: [string, string], texts: [string, string]): Promise<string> {
  const ws = buses.map((bus, i) => writer(bus, "10000", file, texts[i] ?? "", "go"));
  const lines = ws.map((w) => lineReader(w.stdout));
  for (const l of lines) expect(await l.next()).toBe('{"ready":true}');
  for (const w of ws) w.stdin.write("go\n");
  for (const w of ws) w.stdin.flush();
  for (const l of lines) expect(await l.next()).toBe('{"ok":true}');
  for (const w of ws) expect(await w.exited).toBe(0);
  return readFileSync(file, "utf8");
}

test("two processes started at once under the same lock each write their transaction whole; on two different buses they interleave (witness: the file)", async () => {
  const a = "A".repeat(40);
  const b = "B".repeat(40);
  expect([`${a}${b}`, `${b}${a}`]).toContain(await race(join(dir, "same.txt"), ["isa", "isa"], [a, b]));
  // Control: the same race without a shared lock mixes the two, so the witness can tell.
  const mixed = await race(join(dir, "apart.txt"), ["pci", "ec"], [a, b]);
  expect(mixed.length).toBe(80);
  expect([`${a}${b}`, `${b}${a}`]).not.toContain(mixed);
});

test("while one process holds the lock another cannot take it (LOCK_TIMEOUT, nothing written); once released it can (witness: the file)", async () => {
  const file = join(dir, "held-by-a.txt");
  const holder = writer("isa", "0", file, "A", "hold");
  const lines = lineReader(holder.stdout);
  expect(await lines.next()).toBe('{"ok":true,"held":true}');
  const refused = writer("isa", "0", file, "B");
  expect(JSON.parse((await lineReader(refused.stdout).next()) ?? "")).toMatchObject({ ok: false, code: "LOCK_TIMEOUT" });
  expect(readFileSync(file, "utf8")).toBe("A");
  holder.stdin.end();
  expect(await holder.exited).toBe(0);
  const after = writer("isa", "0", file, "B");
  expect(await lineReader(after.stdout).next()).toBe('{"ok":true}');
  expect(readFileSync(file, "utf8")).toBe("AB");
});

test("a held lock times out with LOCK_TIMEOUT naming the lock and its holder; a holder that dies releases it", async () => {
  const holder = writer("smbus", "1000", join(dir, "held.txt"), "h", "hold");
  expect(await lineReader(holder.stdout).next()).toBe('{"ok":true,"held":true}');
  const t0 = performance.now();
  let err: unknown;
  try {
    lockBus("smbus", { timeoutMs: 50 });
  } catch (e) {
    err = e;
  }
  expect((err as { code: string }).code).toBe("LOCK_TIMEOUT");
  expect((err as Error).message).toContain(`/run/lock/ioperm-smbus.lock, held by pid ${holder.pid}`);
  expect(performance.now() - t0).toBeGreaterThanOrEqual(50); // it waited, bounded
  holder.kill("SIGKILL");
  await holder.exited;
  using again = lockBus("smbus", { timeoutMs: 5000 });
  expect(again.held).toBe(true);
});

test("release, using and close() give the lock back; a second release does nothing", () => {
  const l = lockBus("ec", { timeoutMs: 0 });
  l.release();
  l.release();
  expect(l.held).toBe(false);
  {
    using _l = lockBus("ec", { timeoutMs: 0 });
  }
  const io = open();
  const viaHandle = io.lock("ec", { timeoutMs: 0 });
  io.close();
  expect(viaHandle.held).toBe(false);
  using last = lockBus("ec", { timeoutMs: 0 }); // free again after close()
  expect(last.held).toBe(true);
});

test("a bus or timeout out of range is a RangeError before anything is locked", () => {
  expect(() => lockBus("usb" as "isa")).toThrow(RangeError);
  expect(() => lockBus("isa", { timeoutMs: MAX_LOCK_TIMEOUT_MS + 1 })).toThrow("from 0 to 60000");
  expect(() => lockBus("isa", { timeoutMs: -1 })).toThrow(RangeError);
  expect(() => lockBus("isa", { timeoutMs: 1.5 })).toThrow(RangeError);
});
