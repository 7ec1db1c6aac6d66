// spawnWithoutPorts: a child started from a thread that holds ports gets none of
// them, and the thread keeps its own. Witnesses: the kernel killing the child's
// raw `in` (SIGSEGV) where a plain Bun.spawn child survives, and Debian's inb
// reading the same LPT1 data latch the parent wrote and read back.
import { expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { open, spawnSyncWithoutPorts, spawnWithoutPorts } from "../../lib/index.ts";

/** A child that executes `in` with no check (test/fixtures/raw-in.ts): the kernel alone decides. */
const rawIn = (port: string) => [process.execPath, "test/fixtures/raw-in.ts", port];
const survived = (r: { signalCode?: unknown; stdout: Buffer }) => ({
  signal: r.signalCode ?? undefined,
  ran: r.stdout.toString().startsWith("in executed"),
});
const debianInb = (port: number) =>
  Number(
    execFileSync("inb", [`0x${port.toString(16)}`])
      .toString()
      .trim(),
  );

test("with ioperm grants: the child's raw `in` on the parent's port is killed by SIGSEGV, the parent's next access works (witnesses: the signal, Debian's inb)", async () => {
  using io = open({ backend: "direct" });
  io.grant(0x378, 3);
  // The plant: a plain Bun.spawn child inherits the bitmap and its `in` runs.
  expect(survived(Bun.spawnSync(rawIn("0x378"), { stdout: "pipe", stderr: "pipe" }))).toEqual({ signal: undefined, ran: true });
  expect(survived(spawnSyncWithoutPorts(rawIn("0x378"), { stdout: "pipe", stderr: "pipe" }))).toEqual({ signal: "SIGSEGV", ran: false });
  const child = spawnWithoutPorts(rawIn("0x378"), { stdout: "pipe", stderr: "pipe" });
  await child.exited;
  expect({ signal: child.signalCode, out: await new Response(child.stdout).text() }).toEqual({ signal: "SIGSEGV", out: "" });
  io.outb(0x378, 0x5a);
  expect(io.inb(0x378)).toBe(0x5a);
  expect(debianInb(0x378)).toBe(0x5a);
  expect(io.grants()).toMatchObject({ backend: "direct" });
});

test("with iopl (grantAll): the child's raw `in` is killed by SIGSEGV, the parent keeps every port (witnesses: the signal, Debian's inb)", () => {
  using io = open({ backend: "direct" });
  io.grantAll();
  expect(survived(Bun.spawnSync(rawIn("0x80"), { stdout: "pipe", stderr: "pipe" }))).toEqual({ signal: undefined, ran: true });
  expect(survived(spawnSyncWithoutPorts(rawIn("0x80"), { stdout: "pipe", stderr: "pipe" }))).toEqual({ signal: "SIGSEGV", ran: false });
  io.outb(0x378, 0xa5);
  expect(io.inb(0x378)).toBe(0xa5);
  expect(debianInb(0x378)).toBe(0xa5);
  expect(io.grants()).toEqual({ backend: "direct", all: true });
});

test("the child's own exit status and output come through unchanged", () => {
  const r = spawnSyncWithoutPorts(["sh", "-c", "echo hi; exit 3"], { stdout: "pipe" });
  expect({ code: r.exitCode, out: r.stdout.toString() }).toEqual({ code: 3, out: "hi\n" });
});
