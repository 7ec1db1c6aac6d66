// The bus locks between real processes that drive a real device: two writers
// started at once send their messages to isa-debugcon (0xE9) byte by byte, each
// under the "isa" lock; the host debugcon file (the witness) holds each message
// whole. A holder killed in the middle of its transaction releases the lock.
import { expect, test } from "bun:test";
import { eventually, hostFile, lineReader } from "./witness.ts";

const writer = (...args: string[]) =>
  Bun.spawn([process.execPath, "test/fixtures/bus-lock-writer.ts", ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });

test("two processes started at once, each under the isa lock, put their messages on debugcon whole (witness: the host debugcon file)", async () => {
  const before = hostFile("debugcon").length;
  const a = `<${"a".repeat(30)}>`;
  const b = `<${"b".repeat(30)}>`;
  const ws = [writer("isa", "20000", "-", a, "go"), writer("isa", "20000", "-", b, "go")];
  const lines = ws.map((w) => lineReader(w.stdout));
  for (const l of lines) expect(await l.next()).toBe('{"ready":true}');
  for (const w of ws) {
    w.stdin.write("go\n");
    w.stdin.flush();
  }
  for (const l of lines) expect(await l.next()).toBe('{"ok":true}');
  const got = await eventually(
    () => hostFile("debugcon").subarray(before).toString(),
    (s) => s.length >= a.length + b.length,
  );
  expect([`${a}${b}`, `${b}${a}`]).toContain(got);
});

test("a holder killed while it holds the lock releases it: the next process takes it at once (witness: /proc/locks, the debugcon file)", async () => {
  const holder = writer("isa", "0", "-", "[held]", "hold");
  expect(await lineReader(holder.stdout).next()).toBe('{"ok":true,"held":true}');
  expect(await Bun.file("/proc/locks").text()).toContain(` ${holder.pid} `);
  holder.kill("SIGKILL");
  await holder.exited;
  const next = writer("isa", "0", "-", "[next]");
  expect(await lineReader(next.stdout).next()).toBe('{"ok":true}');
  const file = await eventually(
    () => hostFile("debugcon").toString(),
    (s) => s.includes("[next]"),
  );
  expect(file).toContain("[held][next]");
});
