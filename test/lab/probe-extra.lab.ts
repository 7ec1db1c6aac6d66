// probe.ts with extra devices at other standard bases, and with parport_pc loaded.
// @lab-device isa-parallel,iobase=0x278,irq=5,index=1
// @lab-device isa-serial,iobase=0x3e8,irq=4,index=2
// @lab-device pci-bridge,id=br1,chassis_nr=1,addr=0x10
// @lab-device pci-testdev,bus=br1,addr=0x3
// @lab-qemu -fw_cfg name=opt/ioperm.test,string=ioperm-fw-cfg-witness
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { lptWrite, parseSerialDriver } from "../../lib/devices/index.ts";
import { open } from "../../lib/index.ts";
import { probe, readRegs } from "./probe-lib.ts";
import { eventually, hostFile, ioportsClaims, sysPciDevices } from "./witness.ts";

test("parallel ports at 0x378 and 0x278, none at 0x3BC (witness: a byte strobed at 0x278 lands in its host file)", async () => {
  const r = probe("--only", "lpt");
  expect(r.lpt.map((p) => [p.base, p.present])).toEqual([
    [0x378, true],
    [0x278, true],
    [0x3bc, false],
  ]);
  using io = open({ backend: "direct" });
  io.grant(0x278, 3);
  expect(lptWrite(io, 0x278, new Uint8Array([0x27, 0x8a]))).toBe(2);
  const file = await eventually(
    () => hostFile("isa-parallel@0x278"),
    (f) => f.length >= 2,
  );
  expect([...file]).toEqual([0x27, 0x8a]);
});

test("a third UART at 0x3E8 is found and typed like the kernel types it (witness: /proc/tty/driver/serial)", () => {
  const kernel = parseSerialDriver(readFileSync("/proc/tty/driver/serial", "utf8"));
  expect(kernel.map((u) => u.port).sort((a, b) => a - b)).toEqual([0x2f8, 0x3e8, 0x3f8]);
  const r = probe("--only", "uart");
  expect(r.uart.map((u) => [u.base, u.present, u.type])).toEqual([
    [0x3f8, true, "16550A"],
    [0x2f8, true, "16550A"],
    [0x3e8, true, "16550A"],
    [0x2e8, false, null],
  ]);
  const forced = probe("--only", "uart", "--force");
  expect(forced.uart.find((u) => u.base === 0x3e8)?.type).toBe(kernel.find((k) => k.port === 0x3e8)?.type ?? "missing");
});

test("with parport_pc loaded, 0x378 is reported from the kernel's view and its data register is left alone", () => {
  const kdir = `/lib/modules/${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}/kernel/drivers/parport`;
  for (const m of ["parport", "parport_pc"]) {
    const r = Bun.spawnSync(["busybox", "insmod", `${kdir}/${m}.ko`], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
  }
  expect(ioportsClaims().some((c) => c.from === 0x378 && /parport/.test(c.name))).toBe(true);
  using io = open({ backend: "direct" });
  io.grant(0x378, 1);
  io.outb(0x378, 0x69);
  io.release();
  const before = readRegs("0x378:8", "0x37a:8");
  const r = probe("--only", "lpt");
  const lpt1 = r.lpt.find((p) => p.base === 0x378);
  expect(lpt1?.method).toBe("kernel");
  expect(lpt1?.claimedBy).toMatch(/parport/);
  expect(lpt1?.kernel?.modes).toContain("PCSPP");
  expect(readRegs("0x378:8", "0x37a:8")).toEqual(before);
  expect(before["0x378:8"]).toBe(0x69);
});

test("LPT1's modes as the probe detects them (--force) match parport_pc's: PS/2 bidirectional (TRISTATE), no ECP (witness: /proc/sys/dev/parport)", () => {
  const kernelModes = readFileSync("/proc/sys/dev/parport/parport0/modes", "utf8").trim().split(",");
  expect(kernelModes).toContain("PCSPP");
  const lpt1 = (
    probe("--only", "lpt", "--force").lpt[0] as unknown as {
      probe: { modes: { spp: boolean; ps2: boolean | null; ecp: boolean; ecrMode: string | null } };
    }
  ).probe;
  expect(lpt1.modes).toMatchObject({ spp: true, ps2: kernelModes.includes("TRISTATE"), ecp: kernelModes.includes("ECP"), ecrMode: null });
  expect(lpt1.modes.ps2).toBe(true); // QEMU's parallel port is bidirectional
});

test("the fw_cfg file list holds the file this VM was started with, at its size (witness: QEMU's -fw_cfg name=opt/ioperm.test)", () => {
  const doc = probe("--only", "fwcfg") as unknown as { fwcfg: { info: { files: { name: string; size: number }[] } } };
  const names = doc.fwcfg.info.files.map((f) => f.name);
  expect(doc.fwcfg.info.files.find((f) => f.name === "opt/ioperm.test")).toMatchObject({ size: "ioperm-fw-cfg-witness".length });
  expect(names).toContain("etc/boot-fail-wait"); // one of QEMU's own
  expect([...names].sort()).toEqual(names.slice().sort()); // listed in QEMU's (sorted) directory order
});

test("PCI: the probe follows the bridge to the card behind it on bus 01 (witness: /sys/bus/pci/devices)", () => {
  const doc = probe("--only", "pci");
  const h4 = (n: number) => n.toString(16).padStart(4, "0");
  const found = doc.pci.functions.map((f) => `${f.bdf} ${h4(f.vendor)}:${h4(f.deviceId)}`).sort();
  expect(found).toEqual(sysPciDevices());
  expect(found).toContain("01:03.0 1b36:0005"); // pci-testdev behind pci-bridge br1
});

test("examples/fw-cfg.ts lists QEMU's files and dumps the one this VM was given (witness: -fw_cfg name=opt/ioperm.test)", () => {
  const run = (...args: string[]) => Bun.spawnSync([process.execPath, "examples/fw-cfg.ts", ...args], { stdout: "pipe" }).stdout.toString();
  const list = run().trim().split("\n");
  expect(list.some((l) => l.endsWith(" opt/ioperm.test") && l.includes(` ${"ioperm-fw-cfg-witness".length} `))).toBe(true);
  expect(run("opt/ioperm.test")).toBe("ioperm-fw-cfg-witness");
});
