// Serial ports on PCI cards, where the firmware put them: the probe finds them
// through the cards' I/O BARs, names the cards from pci.ids, and a string sent
// through a card's UART lands in that card's host file. Witnesses: the BARs the
// guest kernel assigned (/sys/bus/pci/devices/*/resource), lspci's names,
// QEMU's chardev files, and /proc/tty/driver/serial (Debian's 8250_pci is built
// in and registers four UARTs at most, so the fifth port here is the kernel's
// only in /proc/ioports as the card's BAR: the probe probes it).
// @lab-device pci-serial,id=pcs,addr=0x08
// @lab-device pci-serial-2x,id=pcs2,addr=0x09
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseSerialDriver, uartOpen, uartWrite } from "../../lib/devices/index.ts";
import { open } from "../../lib/index.ts";
import { eventually, hostFile, ioportsClaims } from "./witness.ts";

interface CardPort {
  bdf: string;
  kind: string;
  base: number;
  uart: { present: boolean; method: string; type: string | null; claimedBy: string | null };
}
interface Named {
  bdf: string;
  vendorName: string | null;
  deviceName: string | null;
  classLabel: string | null;
}

function probe(): { pciPorts: CardPort[]; pci: { functions: Named[] } } {
  const r = Bun.spawnSync([process.execPath, "probe.ts", "--json", "--only", "pci,uart"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`probe: ${r.stderr}`);
  return JSON.parse(r.stdout.toString());
}

/** The first I/O resource the guest kernel gave a function (/sys/…/resource: start end flags per BAR; 0x100 = IORESOURCE_IO). */
function sysIoBar(bdf: string): number {
  const lines = readFileSync(`/sys/bus/pci/devices/0000:${bdf}/resource`, "utf8").trim().split("\n");
  const io = lines.map((l) => l.split(/\s+/).map((n) => Number(n))).find(([start, , flags]) => (flags ?? 0) & 0x100 && (start ?? 0) > 0);
  if (!io) throw new Error(`no I/O BAR for ${bdf} in /sys`);
  return io[0] ?? 0;
}

test("the probe finds one UART on pci-serial and two on pci-serial-2x, at the BARs the kernel assigned (witnesses: /sys resource, /proc/tty/driver/serial)", () => {
  const r = probe();
  const one = sysIoBar("00:08.0");
  const two = sysIoBar("00:09.0");
  expect(r.pciPorts.map((p) => [p.bdf, p.kind, p.base, p.uart.present, p.uart.type])).toEqual([
    ["00:08.0", "serial", one, true, "16550A"],
    ["00:09.0", "serial", two, true, "16550A"],
    ["00:09.0", "serial", two + 8, true, "16550A"],
  ]);
  // Where the kernel registered a port it is reported from the kernel's view, untouched; elsewhere it was probed.
  const kernel = parseSerialDriver(readFileSync("/proc/tty/driver/serial", "utf8"));
  for (const p of r.pciPorts) {
    const k = kernel.find((u) => u.port === p.base);
    expect([p.base, p.uart.method, p.uart.claimedBy]).toEqual(k ? [p.base, "kernel", "serial"] : [p.base, "probe", null]);
  }
  expect(ioportsClaims().some((c) => c.from === one && /0000:00:08\.0/.test(c.name))).toBe(true);
});

test("with --force the card UARTs are probed, and their types agree with the kernel's (witness: /proc/tty/driver/serial)", () => {
  const r = Bun.spawnSync([process.execPath, "probe.ts", "--json", "--only", "pci,uart", "--force"], { stdout: "pipe" });
  const doc = JSON.parse(r.stdout.toString()) as { pciPorts: CardPort[] };
  const kernel = parseSerialDriver(readFileSync("/proc/tty/driver/serial", "utf8"));
  expect(doc.pciPorts.length).toBe(3);
  for (const p of doc.pciPorts) {
    expect(p.uart.method).toBe("probe");
    expect(p.uart.type).toBe(kernel.find((k) => k.port === p.base)?.type ?? "16550A");
  }
});

test("card names come from pci.ids and match lspci's (witness: pciutils)", () => {
  const names = probe().pci.functions.filter((f) => f.bdf === "00:08.0" || f.bdf === "00:09.0");
  expect(names.map((f) => f.bdf)).toEqual(["00:08.0", "00:09.0"]);
  for (const f of names) {
    const mm = Bun.spawnSync(["lspci", "-mm", "-s", f.bdf], { stdout: "pipe" }).stdout.toString();
    const [cls, vendor, device] = [...mm.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    expect({ bdf: f.bdf, classLabel: f.classLabel, vendorName: f.vendorName, deviceName: f.deviceName }).toEqual({
      bdf: f.bdf,
      classLabel: cls ?? null,
      vendorName: vendor ?? null,
      deviceName: device ?? null,
    });
  }
});

test("a string through each card UART lands in that card's host file (witness: QEMU's chardev files)", async () => {
  const ports = probe().pciPorts;
  const files = ["pcs", "pcs2.1", "pcs2.2"];
  expect(ports.length).toBe(files.length);
  using io = open({ backend: "direct" });
  for (const [i, p] of ports.entries()) {
    io.grant(p.base, 8);
    uartOpen(io, p.base, { baud: 115200 });
    const text = `card port ${i} at 0x${p.base.toString(16)}\n`;
    expect(uartWrite(io, p.base, text)).toBe(text.length);
    const got = await eventually(
      () => hostFile(files[i] ?? "").toString(),
      (s) => s.includes(text),
    );
    expect(got).toContain(text);
  }
});
