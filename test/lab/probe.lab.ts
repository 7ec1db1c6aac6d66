// probe.ts on the standard lab machine (LPT1, COM1, COM2, RTC, i440FX, fw_cfg),
// each finding checked against an independent witness.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseSerialDriver } from "../../lib/devices/index.ts";
import { open } from "../../lib/index.ts";
import { openForSurvey, renderText, survey } from "ioperm/probe";
import { h4, probe, readRegs, tracedProbe } from "./probe-lib.ts";
import { bracketClock, debianIo, eventually, hostFile, sysPciDevices } from "./witness.ts";

const kernelUarts = () => parseSerialDriver(readFileSync("/proc/tty/driver/serial", "utf8"));

test("exactly one parallel port, at 0x378, found by readback (witness: a byte strobed there lands in the host LPT file)", async () => {
  const r = probe("--only", "lpt");
  expect(r.lpt.map((p) => [p.base, p.present, p.method])).toEqual([
    [0x378, true, "readback"],
    [0x278, false, "readback"],
    [0x3bc, false, "readback"],
  ]);
  using io = open({ backend: "direct" });
  io.grant(0x378, 3);
  const { lptWrite } = await import("../../lib/devices/index.ts");
  const before = hostFile("lpt1").length;
  expect(lptWrite(io, 0x378, new Uint8Array([0x71]))).toBe(1);
  const file = await eventually(
    () => hostFile("lpt1"),
    (f) => f.length > before,
  );
  expect(file.at(-1)).toBe(0x71);
});

test("16550A UARTs at 0x3F8 and 0x2F8 from the kernel's view, nothing at 0x3E8/0x2E8 (witness: /proc/tty/driver/serial)", () => {
  const r = probe("--only", "uart");
  const kernel = kernelUarts();
  expect(kernel.map((u) => [u.port, u.type])).toEqual([
    [0x3f8, "16550A"],
    [0x2f8, "16550A"],
  ]);
  expect(r.uart.map((u) => [u.base, u.present, u.type])).toEqual([
    [0x3f8, true, "16550A"],
    [0x2f8, true, "16550A"],
    [0x3e8, false, null],
    [0x2e8, false, null],
  ]);
  expect(r.uart.filter((u) => u.present).every((u) => u.method === "kernel" && u.claimedBy === "serial")).toBe(true);
});

test("with --force the probe's own FIFO/IIR detection agrees with the kernel's", () => {
  const r = probe("--only", "uart", "--force");
  expect(kernelUarts().map((u) => [u.port, u.type])).toEqual([
    [0x3f8, "16550A"],
    [0x2f8, "16550A"],
  ]);
  for (const k of kernelUarts()) {
    const u = r.uart.find((x) => x.base === k.port);
    expect(u?.method).toBe("probe");
    expect(u?.type).toBe(k.type);
  }
  expect(r.uart.filter((u) => u.present).length).toBe(2);
});

test("RTC between two reads of it by the guest kernel around the probe (rtc0's since_epoch); PCI list equals /sys/bus/pci/devices; fw_cfg says QEMU", () => {
  const b = bracketClock(
    () => probe("--only", "rtc,pci,fwcfg"),
    (p) => Date.parse(p.rtc.time),
  );
  expect(b).toMatchObject({ within: true });
  const r = b.value;
  expect(r.rtc.claimedBy).toBe("rtc0");
  const found = r.pci.functions.map((f) => `${f.bdf} ${h4(f.vendor)}:${h4(f.deviceId)}`).sort();
  expect(found).toEqual(sysPciDevices());
  expect(r.fwcfg.present).toBe(true);
  expect(r.machine.hypervisor).toBe("QEMU");
});

const TOUCHED = [
  "0x378:8",
  "0x37a:8", // LPT data, control
  "0x2f9:8",
  "0x2fb:8",
  "0x2fc:8",
  "0x2ff:8", // COM2 IER, LCR, MCR, scratch
  "0x3f9:8",
  "0x3fb:8",
  "0x3fc:8",
  "0x3ff:8", // COM1
  "0xcf8:32", // PCI address register
];

test("every register the probe touches reads the same before and after, even with --force (witness: a second process)", () => {
  using io = open({ backend: "direct" });
  io.grant(0x378, 1);
  io.grant(0x2ff, 1);
  io.grant(0xcf8, 4);
  io.outb(0x378, 0x3c);
  io.outb(0x2ff, 0x77);
  io.outl(0xcf8, 0x80000810);
  io.release();
  const before = readRegs(...TOUCHED);
  probe("--force");
  expect(readRegs(...TOUCHED)).toEqual(before);
  expect(before["0x378:8"]).toBe(0x3c);
  expect(before["0x2ff:8"]).toBe(0x77);
  expect(before["0xcf8:32"]).toBe(0x80000810);
});

/** Puts one byte into COM2's receive FIFO through loopback; returns a reader of "byte still waiting". */
function seedReceiveFifo(io: ReturnType<typeof open>, byte: number): () => boolean {
  const mcr = io.inb(0x2fc);
  io.outb(0x2fa, 0x01); // FIFO on (keeps a received byte until read or FIFO reset)
  io.outb(0x2fc, mcr | 0x10); // loopback: THR feeds RBR
  io.outb(0x2f8, byte);
  for (let spin = 0; (io.inb(0x2fd) & 0x01) === 0 && spin < 100000; spin++);
  io.outb(0x2fc, mcr);
  return () => (io.inb(0x2fd) & 0x01) === 1;
}

test("a claimed UART is not written without --force (witness: a byte waiting in its receive FIFO survives; --force clears it)", () => {
  using io = open({ backend: "direct" });
  io.grant(0x2f8, 8);
  const waiting = seedReceiveFifo(io, 0x5e);
  expect(waiting()).toBe(true);
  probe("--only", "uart");
  expect(waiting()).toBe(true);
  expect(io.inb(0x2f8)).toBe(0x5e);
  // Control: the same witness does see --force's FIFO reset, so it can tell.
  const again = seedReceiveFifo(io, 0x5f);
  expect(again()).toBe(true);
  probe("--only", "uart", "--force");
  expect(again()).toBe(false);
});

test("--iopl grants every port up front (asked for) and finds what the witnesses show (witnesses: /sys, Debian's readback of each LPT base)", () => {
  const ranged = probe("--only", "lpt,rtc,pci");
  const iopl = probe("--only", "lpt,rtc,pci", "--iopl");
  // A parallel port is where Debian's outb/inb read a pattern back from the data register.
  const readsBack = (base: number) => {
    debianIo("outb", base, 0xa5);
    return debianIo("inb", base) === 0xa5;
  };
  const witnessed = iopl.lpt.map((p) => [p.base, readsBack(p.base)]);
  expect(witnessed.length).toBe(3);
  expect(iopl.lpt.map((p) => [p.base, p.present])).toEqual(witnessed);
  expect(iopl.pci.functions.map((f) => `${f.bdf} ${h4(f.vendor)}:${h4(f.deviceId)}`).sort()).toEqual(sysPciDevices());
  expect(iopl.pci.functions).toEqual(ranged.pci.functions);
  expect([ranged.host.backend, iopl.host.backend]).toEqual(["direct", "direct"]);
  expect([ranged.host.grant, iopl.host.grant]).toEqual(["ranges", "iopl"]);
});

/** The ranges the probe may grant itself: the bases it surveys, and 0x80 for its first check. */
/** PIIX4's SMBus base as setpci (pciutils) reads it from 00:01.3's register 0x90, not through the library. */
function smbusBase(): number {
  const r = Bun.spawnSync(["setpci", "-s", "00:01.3", "90.w"], { stdout: "pipe" });
  return Number.parseInt(r.stdout.toString().trim(), 16) & 0xfff0;
}

const PROBED: [number, number][] = [
  [0x80, 1],
  [0x510, 2],
  [0x70, 2],
  [0xcf8, 8],
  [0x378, 3],
  [0x278, 3],
  [0x3bc, 3],
  [0x778, 3],
  [0x678, 3],
  [0x7bc, 3], // LPT registers and ECRs (base + 0x400)
  [0x3f8, 8],
  [0x2f8, 8],
  [0x3e8, 8],
  [0x2e8, 8],
  [0xca2, 2], // IPMI KCS (nothing there on the standard machine: status 0xFF)
  [smbusBase(), 16], // PIIX4's SMBus host, at the base its config register 0x90 holds
];

test("it grants only the range it is probing, never every port (witness: the ioperm/iopl calls strace sees)", () => {
  const { calls } = tracedProbe();
  const grants = calls.filter((c) => c.name === "ioperm" && c.args[2] === "1").map((c) => [Number(c.args[0]), Number(c.args[1])]);
  expect(grants.length).toBeGreaterThanOrEqual(6);
  const outside = grants.filter(([from = 0, n = 0]) => !PROBED.some(([a, m]) => from >= a && from + n <= a + m));
  expect(outside).toEqual([]);
  // iopl(0) only lowers the level (release() drops any iopl); nothing raises it without --iopl.
  expect(calls.filter((c) => c.name === "iopl" && c.args[0] !== "0")).toEqual([]);
  // With --iopl, one iopl(3) and no ranged grant.
  const all = tracedProbe("--iopl").calls;
  expect(all.filter((c) => c.name === "iopl" && c.args[0] !== "0").map((c) => c.args[0])).toEqual(["3"]);
  expect(all.filter((c) => c.name === "ioperm" && c.args[2] === "1")).toEqual([]);
});

test("PCI progress goes to a terminal only: shown under a pty, absent in a pipe (witness: script(1) giving the probe a terminal)", () => {
  const piped = Bun.spawnSync([process.execPath, "probe.ts", "--only", "pci"], { stdout: "pipe", stderr: "pipe" });
  expect(piped.exitCode).toBe(0);
  expect(piped.stderr.toString()).not.toContain("scanning PCI bus");
  // script(1) runs the command on a new pty (stdin, stdout and stderr all the terminal) and copies what it printed.
  const tty = Bun.spawnSync(["script", "-qec", `${process.execPath} probe.ts --only pci`, "/dev/null"], { stdout: "pipe", stderr: "pipe" });
  expect(tty.exitCode).toBe(0);
  expect(tty.stdout.toString()).toContain("scanning PCI bus 00");
  expect(tty.stdout.toString()).toContain("\x1b[K"); // the line is cleared again after the scan
});

test("--backend devport surveys through /dev/port, with no ioperm call, and finds what the direct backend finds (witness: strace)", () => {
  const { calls, doc } = tracedProbe("--backend", "devport", "--only", "fwcfg,lpt,rtc,pci");
  expect(doc.host.backend).toBe("devport");
  // fw_cfg and PCI need 16/32-bit I/O: skipped with a note each, not a failure.
  expect((doc as unknown as { pci?: unknown; fwcfg?: unknown }).pci).toBeUndefined();
  expect((doc as unknown as { fwcfg?: unknown }).fwcfg).toBeUndefined();
  expect((doc as unknown as { notes: string[] }).notes.join("\n")).toContain("PCI configuration skipped");
  expect((doc as unknown as { notes: string[] }).notes.join("\n")).toContain("fw_cfg skipped");
  expect(calls.some((c) => /open/.test(c.name) && c.args.includes('"/dev/port"'))).toBe(true);
  expect(calls.filter((c) => c.name === "ioperm" || c.name === "iopl")).toEqual([]);
  const direct = probe("--only", "lpt,rtc,pci");
  expect(doc.lpt.map((p) => [p.base, p.present])).toEqual(direct.lpt.map((p) => [p.base, p.present]));
});

test("the human-readable table says what the JSON says", () => {
  const doc = probe("--only", "lpt,uart,pci,fwcfg");
  const table = Bun.spawnSync([process.execPath, "probe.ts", "--only", "lpt,uart,pci,fwcfg"], { stdout: "pipe" }).stdout.toString();
  const hex = (n: number) => `0x${n.toString(16).toUpperCase()}`;
  for (const p of doc.lpt) expect(table).toMatch(new RegExp(`^  ${hex(p.base)}\\s+${p.present ? "present" : "-"}`, "m"));
  for (const u of doc.uart) expect(table).toMatch(new RegExp(`^  ${hex(u.base)}\\s+${u.present ? `present\\s+${u.type}` : "-"}`, "m"));
  for (const f of doc.pci.functions) expect(table).toContain(`  ${f.bdf}  ${h4(f.vendor)}:${h4(f.deviceId)}`);
  expect(table).toContain("signature QEMU");
  expect(table).not.toContain("\x1b["); // no terminal control sequences when stdout is not a terminal
});

test("a script surveys through ioperm/probe in its own process and gets what probe.ts prints (witnesses: /sys/bus/pci/devices, probe.ts's output)", () => {
  const { io, backend } = openForSurvey({ backend: "direct" });
  let report: ReturnType<typeof survey>;
  try {
    report = survey(io, { only: ["lpt", "rtc", "pci"], backend });
    expect(io.grants().all).toBe(false);
  } finally {
    io.close();
  }
  expect(report.host).toMatchObject({ backend: "direct", grant: "ranges" });
  expect(report.pci?.functions.map((f) => `${f.bdf} ${h4(f.vendor)}:${h4(f.deviceId)}`).sort()).toEqual(sysPciDevices());
  expect(report.rtc?.claimedBy).toBe("rtc0");
  expect(report.lpt?.map((p) => [p.base, p.present, p.method])).toEqual([
    [0x378, true, "readback"],
    [0x278, false, "readback"],
    [0x3bc, false, "readback"],
  ]);
  expect(report.uart).toBeUndefined();
  // The same rendering as the command's, line for line, but for the clock's reading.
  const printed = Bun.spawnSync([process.execPath, "probe.ts", "--only", "lpt,rtc,pci"], { stdout: "pipe" }).stdout.toString();
  const timeless = (text: string) => text.split("\n").filter((l) => !/^\s+\d{4}-\d\d-\d\dT/.test(l));
  expect(timeless(renderText(report))).toEqual(timeless(printed.trimEnd()));
});
