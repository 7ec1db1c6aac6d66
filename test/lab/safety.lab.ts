// Refusals that would otherwise crash the process, checked for real in the lab VM
// where the instructions would run: the process must survive each one.
import { expect, test } from "bun:test";
import { open } from "../../lib/index.ts";
import { errorCode as codeOf } from "../error-code.ts";
import { asNobody } from "../nobody.ts";
import { debianIo } from "./witness.ts";

test("an ungranted port next to a granted one is refused; the granted one works", () => {
  using io = open({ backend: "direct" });
  io.grant(0x378, 1);
  debianIo("outb", 0x378, 0x5a); // LPT1's data register reads back what Debian's outb latched
  expect(io.inb(0x378)).toBe(0x5a);
  expect(codeOf(() => io.inb(0x379))).toBe("NOT_GRANTED");
  expect(codeOf(() => io.inw(0x378))).toBe("NOT_GRANTED"); // 0x379 is half of it
});

test("a released range is refused again (witness: the kernel agrees — a child that skips the check is killed)", () => {
  using io = open({ backend: "direct" });
  io.grant(0x80, 1);
  io.outb(0x80, 0x12);
  io.release(0x80, 1);
  expect(io.isGranted(0x80)).toBe(false);
  expect(codeOf(() => io.outb(0x80, 0x13))).toBe("NOT_GRANTED");
  // The mirror matches the kernel: the fixture grants, releases, then executes the
  // instruction without the library's check, and the kernel kills it (SIGSEGV).
  const child = Bun.spawnSync([process.execPath, "test/fixtures/raw-after-release.ts"], { stderr: "pipe" });
  expect(child.stdout.toString()).toContain("granted write ok");
  expect(child.stdout.toString()).not.toContain("released write executed");
  expect(child.signalCode).toBe("SIGSEGV");
});

test("close() gives the kernel grant back too (witness: the kernel kills a child that runs `out` after its close)", () => {
  const child = Bun.spawnSync([process.execPath, "test/fixtures/raw-after-release.ts", "close"], { stderr: "pipe" });
  expect(child.stdout.toString()).toContain("granted write ok");
  expect(child.stdout.toString()).not.toContain("released write executed");
  expect(child.signalCode).toBe("SIGSEGV");
});

test("grantAll (iopl) covers every port; a partial release is refused with IOPL_ACTIVE", () => {
  using io = open({ backend: "direct" });
  io.grantAll();
  expect(io.grants()).toEqual({ backend: "direct", all: true });
  io.outw(0x1ce, 0);
  const id = io.inw(0x1cf);
  debianIo("outw", 0x1ce, 0);
  expect(id).toBe(debianIo("inw", 0x1cf)); // the Bochs VBE ID, as Debian's inw reads it
  expect(id & 0xfff0).toBe(0xb0c0);
  expect(codeOf(() => io.release(0x1ce, 2))).toBe("IOPL_ACTIVE");
  io.release();
  expect(codeOf(() => io.inb(0x80))).toBe("NOT_GRANTED");
});

test("a Worker starts with no grant even though this thread holds one, and gets NOT_GRANTED", async () => {
  using io = open({ backend: "direct" });
  io.grant(0x80, 1);
  io.grant(0x378, 1);
  const w = new Worker(new URL("../fixtures/worker-ungranted.ts", import.meta.url).href);
  const msg = await new Promise<{ code: string }>((resolve, reject) => {
    w.onmessage = (e) => resolve(e.data);
    w.onerror = reject;
  });
  w.terminate();
  expect(msg.code).toBe("NOT_GRANTED");
  // This thread still has its grants: a byte Debian's outb latched in LPT1 reads back here.
  debianIo("outb", 0x378, 0xc3);
  expect(io.inb(0x378)).toBe(0xc3);
  io.outb(0x80, 0x42);
});

test("a Worker that grants its own ports can use them", async () => {
  const w = new Worker(new URL("../fixtures/worker-granting.ts", import.meta.url).href);
  const msg = await new Promise<{ ok: boolean; value?: number; error?: string }>((resolve, reject) => {
    w.onmessage = (e) => resolve(e.data);
    w.onerror = reject;
  });
  w.terminate();
  expect(msg).toEqual({ ok: true, value: 0xa5 });
});

test("an unprivileged user gets EPERM naming the remedy, and the process goes on", () => {
  const r = Bun.spawnSync([...asNobody, process.execPath, "test/fixtures/unprivileged.ts"], {
    env: { ...process.env, HOME: "/tmp" },
    stderr: "pipe",
  });
  const out = r.stdout.toString();
  expect(r.exitCode).toBe(0);
  const report = JSON.parse(out) as { uid: number; code: string; message: string; after: string };
  expect(report.uid).toBe(65534);
  expect(report.code).toBe("EPERM");
  expect(report.message).toContain("CAP_SYS_RAWIO");
  expect(report.message).toContain("run as root");
  expect(report.after).toBe("NOT_GRANTED");
});

test("children inherit the I/O bitmap, and release() before spawning stops that (witness: the child's `in` survives, then SIGSEGV)", () => {
  using io = open({ backend: "direct" });
  io.grant(0x80, 1);
  const inherited = Bun.spawnSync([process.execPath, "test/fixtures/raw-in.ts", "0x80"], { stdout: "pipe", stderr: "pipe" });
  expect({ signal: inherited.signalCode, out: inherited.stdout.toString().startsWith("in executed") }).toEqual({
    signal: undefined,
    out: true,
  });
  io.release();
  const after = Bun.spawnSync([process.execPath, "test/fixtures/raw-in.ts", "0x80"], { stdout: "pipe", stderr: "pipe" });
  expect(after.stdout.toString()).not.toContain("in executed");
  expect(after.signalCode).toBe("SIGSEGV");
});
