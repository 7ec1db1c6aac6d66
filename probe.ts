#!/usr/bin/env bun
/**
 * Surveys the legacy hardware that answers on this machine: parallel ports,
 * UARTs, the CMOS RTC, PCI configuration space, QEMU's fw_cfg, and the
 * controllers (a BMC on IPMI KCS, the SMBus host, the 8042).
 *
 *   bun run probe.ts [--json] [--only lpt,uart,rtc,pci,fwcfg,kcs,smbus,i8042] [--force] [--iopl] [--backend auto|direct|devport]
 *   bun run probe.ts --vm [--device SPEC]…   (the same survey inside the lab VM)
 *
 * Safe by default: reads before it writes, restores what it changes, grants only
 * the ranges it probes (every port with --iopl, only when asked), and leaves
 * state-changing detection off ranges the kernel has claimed (reporting the
 * kernel's own view) unless --force.
 * The --json output follows probe.schema.json.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type Claim,
  type FwCfg,
  type KernelParport,
  type KernelUart,
  LPT_BASES,
  type LptProbe,
  type PciFunction,
  UART_BASES,
  type UartProbe,
  claimant,
  parseParportEntry,
  parseSerialDriver,
  probeLpt,
  probeUart,
  readFwCfg,
  readIoports,
  readRtc,
  pciNames,
  readPciIds,
  scanPci,
} from "./lib/devices/index.ts";
import { canOpen } from "./lib/diagnose.ts";
import { commandFor } from "./lib/where.ts";
import { type I8042Entry, type KcsEntry, type SmbusEntry, surveyI8042, surveyKcs, surveySmbus } from "./lib/probe/controllers.ts";
import { type BackendName, type Ioperm, IopermError, open } from "./lib/index.ts";

const SECTIONS = ["fwcfg", "lpt", "uart", "rtc", "pci", "kcs", "smbus", "i8042"] as const;
type Section = (typeof SECTIONS)[number];

export const SCHEMA_ID = "ioperm-probe/1";

interface LptEntry {
  base: number;
  present: boolean;
  /** How it was found: "readback" (the probe wrote and read), "ppdev" (readback through /dev/parportN), "kernel" (the driver's view), "skipped". */
  method: "readback" | "ppdev" | "kernel" | "skipped";
  claimedBy: string | null;
  probe: LptProbe | null;
  kernel: KernelParport | null;
  note: string | null;
}

interface UartEntry {
  base: number;
  present: boolean;
  method: "probe" | "kernel" | "skipped";
  claimedBy: string | null;
  type: string | null;
  probe: UartProbe | null;
  kernel: KernelUart | null;
  note: string | null;
}

interface Report {
  schema: typeof SCHEMA_ID;
  host: { platform: string; arch: string; kernel: string; uid: number; backend: string; grant: "ranges" | "iopl"; date: string };
  machine: { hypervisor: string | null; dmi: Dmi };
  fwcfg?: { claimedBy: string | null; present: boolean; info: FwCfg | null };
  lpt?: LptEntry[];
  uart?: UartEntry[];
  rtc?: { claimedBy: string | null; present: boolean; time: string | null; bcd: boolean; hour24: boolean; statusB: number } | null;
  pci?: { claimedBy: string | null; functions: (PciFunction & ReturnType<typeof pciNames>)[] } | null;
  pciPorts?: PciPortEntry[];
  /** The ppdev devices (/dev/parportN) and whether this user may open them. */
  parports?: { device: string; usable: boolean }[];
  /** A BMC on IPMI KCS (0xCA2), the SMBus host, the 8042 (lib/probe/controllers.ts). */
  kcs?: KcsEntry | null;
  smbus?: SmbusEntry | null;
  i8042?: I8042Entry | null;
  notes: string[];
}

const hex = (n: number, w = 0) => `0x${n.toString(16).toUpperCase().padStart(w, "0")}`;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The DMI fields the probe reports (/sys/class/dmi/id), each present when the firmware sets it. */
const dmiFields = ["sys_vendor", "product_name", "bios_vendor", "bios_version", "board_vendor"] as const;
type Dmi = Partial<Record<(typeof dmiFields)[number], string>>;

function dmi(): Dmi {
  const out: Dmi = {};
  for (const k of dmiFields) {
    const v = readText(`/sys/class/dmi/id/${k}`)?.trim();
    if (v) out[k] = v;
  }
  return out;
}

function kernelParports(): KernelParport[] {
  const dir = "/proc/sys/dev/parport";
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.startsWith("parport"))
    .map((n) => parseParportEntry(n, readText(join(dir, n, "base-addr")) ?? "0", readText(join(dir, n, "modes")) ?? ""));
}

/** The ppdev devices (/dev/parportN) and whether this user may open them. */
function parportDevices(): { device: string; usable: boolean }[] {
  const names = existsSync("/dev") ? readdirSync("/dev").filter((d) => /^parport\d+$/.test(d)) : [];
  return names.sort().map((d) => ({ device: `/dev/${d}`, usable: canOpen(`/dev/${d}`) }));
}

/**
 * Parallel ports through ppdev, for a process without port access (an ordinary
 * user in group lp): data-register readback and status through the kernel's
 * parport driver. The modes are the kernel's (ppdev cannot flip the direction bit).
 */
function surveyPpdev(notes: string[]): LptEntry[] {
  const kernel = kernelParports();
  const out: LptEntry[] = [];
  for (const { device } of parportDevices()) {
    const k = kernel.find((p) => p.name === device.slice("/dev/".length)) ?? null;
    if (!k) continue;
    try {
      using io = open({ backend: "ppdev", device });
      io.grant(k.base, 3);
      const probe = { ...probeLpt(io, k.base), modes: null };
      out.push({ base: k.base, present: probe.present, method: "ppdev", claimedBy: null, probe, kernel: k, note: `through ${device}` });
    } catch (e) {
      if (!(e instanceof IopermError)) throw e;
      notes.push(`${device}: ${e.message}`);
    }
  }
  return out;
}

/** Grants a range for one step and releases it after, so the probe holds only what it uses. */
function withRange<T>(io: Ioperm, from: number, count: number, f: () => T): T {
  if (io.grants().all) return f(); // --iopl: everything is granted already
  io.grant(from, count);
  try {
    return f();
  } finally {
    io.release(from, count);
  }
}

function surveyLpt(io: Ioperm, claims: Claim[] | undefined, force: boolean, notes: string[]): LptEntry[] {
  return surveyLptAt(io, LPT_BASES, claims, force, notes);
}

/** Parallel ports at these bases, under the safety rules. */
function surveyLptAt(io: Ioperm, bases: readonly number[], claims: Claim[] | undefined, force: boolean, notes: string[]): LptEntry[] {
  const kernel = kernelParports();
  return bases.map((base): LptEntry => {
    const claimedBy = claims ? claimant(claims, base, 3) : null;
    const k = kernel.find((p) => p.base === base) ?? null;
    if (claimedBy && !force) {
      return {
        base,
        present: k !== null,
        method: "kernel",
        claimedBy,
        probe: null,
        kernel: k,
        note: `claimed by ${claimedBy}: data-register readback not done (--force to override)`,
      };
    }
    if (!claims) notes.push(`/proc/ioports unreadable: cannot tell whether ${hex(base)} is claimed`);
    const probe = withRange(io, base, 3, () =>
      base + 0x402 <= 0xffff ? withRange(io, base + 0x402, 1, () => probeLpt(io, base)) : probeLpt(io, base),
    );
    return { base, present: probe.present, method: "readback", claimedBy, probe, kernel: k, note: null };
  });
}

function surveyUart(io: Ioperm, claims: Claim[] | undefined, force: boolean): UartEntry[] {
  return UART_BASES.map((base) => uartAt(io, base, claims, force));
}

/** One UART base, under the safety rules: a claimed range gets the kernel's view unless --force. */
function uartAt(io: Ioperm, base: number, claims: Claim[] | undefined, force: boolean): UartEntry {
  const text = readText("/proc/tty/driver/serial");
  const kernel = text ? parseSerialDriver(text) : [];
  {
    const claimedBy = claims ? claimant(claims, base, 8) : null;
    const k = kernel.find((u) => u.port === base) ?? null;
    if (claimedBy && !force) {
      return {
        base,
        present: k !== null || text === undefined,
        method: "kernel",
        claimedBy,
        type: k?.type ?? null,
        probe: null,
        kernel: k,
        note: `claimed by ${claimedBy}: FIFO/scratch detection not done (--force to override)${text ? "" : "; /proc/tty/driver/serial unreadable"}`,
      };
    }
    const probe = withRange(io, base, 8, () => probeUart(io, base));
    return { base, present: probe.present, method: "probe", claimedBy, type: probe.type, probe, kernel: k, note: null };
  }
}

/** A serial or parallel port on a PCI card, found through the card's I/O BAR. */
interface PciPortEntry {
  bdf: string;
  kind: "serial" | "parallel";
  bar: number;
  base: number;
  uart: UartEntry | null;
  lpt: LptEntry | null;
}

/**
 * Ports on PCI serial (class 07 00) and parallel (07 01) cards: each I/O BAR
 * is probed like a legacy base. A serial BAR holds UARTs 8 ports apart
 * (pci-serial-2x/4x, Oxford and Moschip cards), as many as its extent in
 * /proc/ioports holds (four at most; one when that is unreadable), until one is
 * absent. Same safety rules and /proc/ioports claims as the legacy bases.
 */
function surveyPciPorts(
  io: Ioperm,
  functions: PciFunction[],
  claims: Claim[] | undefined,
  force: boolean,
  notes: string[],
): PciPortEntry[] {
  const out: PciPortEntry[] = [];
  for (const f of functions) {
    const kind = f.classCode >> 8 === 0x0700 ? "serial" : f.classCode >> 8 === 0x0701 ? "parallel" : null;
    if (kind === null) continue;
    for (const { index, base } of f.ioBars) {
      if (kind === "parallel") {
        const [lpt] = surveyLptAt(io, [base], claims, force, notes);
        out.push({ bdf: f.bdf, kind, bar: index, base, uart: null, lpt: lpt ?? null });
        continue;
      }
      // The BAR's extent is the PCI core's reservation in /proc/ioports (BARs are never written to size them).
      const bar = claims?.find((c) => c.from === base && c.name === `0000:${f.bdf}`);
      const ports = bar ? Math.min(4, Math.floor((bar.to - base + 1) / 8)) : 1;
      for (let n = 0; n < ports; n++) {
        const uart = uartAt(io, base + 8 * n, claims, force);
        if (!uart.present) break;
        out.push({ bdf: f.bdf, kind, bar: index, base: base + 8 * n, uart, lpt: null });
      }
    }
  }
  return out;
}

/** Progress on one self-erasing line of a terminal; nothing when stderr is a file or a pipe. */
function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
}

export function survey(io: Ioperm, only: Set<Section>, force: boolean, backend: string): Report {
  const grant = io.grants().all ? "iopl" : "ranges";
  const claims = readIoports();
  const notes: string[] = [];
  if (!claims)
    notes.push("/proc/ioports shows no addresses (not root?): claimed ranges cannot be respected, so state-changing detection is skipped");
  const safeClaims = claims ?? [];
  const d = dmi();
  const report: Report = {
    schema: SCHEMA_ID,
    host: hostFacts(backend, grant),
    machine: { hypervisor: null, dmi: d },
    notes,
  };
  // /dev/port moves bytes only: fw_cfg's 16-bit selector and PCI's 32-bit registers need the direct backend.
  const bytesOnly = backend === "devport";
  const byteNote = (what: string) =>
    notes.push(`${what} skipped: it needs 16/32-bit I/O, and /dev/port performs byte accesses only (use --backend direct)`);
  if (only.has("fwcfg") && bytesOnly) byteNote("fw_cfg");
  if (only.has("fwcfg") && !bytesOnly) {
    const claimedBy = claimant(safeClaims, 0x510, 2);
    const info = withRange(io, 0x510, 2, () => readFwCfg(io)) ?? null;
    report.fwcfg = { claimedBy, present: info !== null, info };
  }
  if (only.has("lpt")) report.lpt = claims || force ? surveyLpt(io, claims, force, notes) : [];
  if (only.has("lpt")) report.parports = parportDevices();
  if (only.has("uart")) report.uart = claims || force ? surveyUart(io, claims, force) : [];
  if (only.has("rtc")) {
    const claimedBy = claimant(safeClaims, 0x70, 2);
    const t = withRange(io, 0x70, 2, () => readRtc(io));
    const valid = !Number.isNaN(t.date.getTime());
    report.rtc = { claimedBy, present: valid, time: valid ? t.date.toISOString() : null, bcd: t.bcd, hour24: t.hour24, statusB: t.statusB };
  }
  if (only.has("pci") && bytesOnly) byteNote("PCI configuration");
  if (only.has("pci") && !bytesOnly) {
    const claimedBy = claimant(safeClaims, 0xcf8, 8);
    progress("scanning PCI bus 00…");
    const scan = () => scanPci(io, (bus, n) => progress(`scanned PCI bus ${bus.toString(16).padStart(2, "0")}: ${n} functions so far`));
    // Windows: the driver does each configuration read itself and keeps 0xCF8-0xCFF denylisted, so nothing is granted.
    const functions = process.platform === "win32" ? scan() : withRange(io, 0xcf8, 8, scan);
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
    const ids = readPciIds();
    if (!ids) notes.push("no pci.ids (Debian: apt-get install pci.ids): PCI functions are shown by ID only");
    report.pci = { claimedBy, functions: functions.map((f) => ({ ...f, ...pciNames(ids, f.vendor, f.deviceId, f.classCode) })) };
    // Serial and parallel ports on PCI cards sit where the firmware put them: found through their I/O BARs.
    report.pciPorts = claims || force ? surveyPciPorts(io, functions, claims, force, notes) : [];
  }
  // The controllers: surveyed only where the kernel's claims can be seen (or --force), like LPT and UART.
  const guarded = claims !== undefined || force;
  if (only.has("kcs")) report.kcs = guarded ? surveyKcs(io, safeClaims, force) : null;
  if (only.has("smbus") && bytesOnly) byteNote("SMBus");
  else if (only.has("smbus")) report.smbus = guarded ? surveySmbus(io, safeClaims, force) : null;
  if (only.has("i8042")) report.i8042 = guarded ? surveyI8042(io, safeClaims, force) : null;
  report.machine.hypervisor = report.fwcfg?.present || /QEMU/i.test(d.sys_vendor ?? "") ? "QEMU" : null;
  if (!only.has("lpt") && !only.has("uart")) return report;
  if (!claims && !force)
    notes.push("LPT and UART detection skipped: run as root so /proc/ioports shows the kernel's claims, or pass --force");
  return report;
}

/** The report's host block: this process, its kernel, and how ports were reached. */
function hostFacts(backend: string, grant: "ranges" | "iopl"): Report["host"] {
  return {
    platform: process.platform,
    arch: process.arch,
    kernel: readText("/proc/sys/kernel/osrelease")?.trim() ?? "",
    uid: process.getuid?.() ?? -1,
    backend,
    grant,
    date: new Date().toISOString(),
  };
}

/** The report of a ppdev-only survey: the host, the machine, the parallel ports and the devices. */
function ppdevReport(lpt: LptEntry[], notes: string[]): Report {
  const d = dmi();
  return {
    schema: SCHEMA_ID,
    host: hostFacts("ppdev", "ranges"),
    machine: { hypervisor: /QEMU/i.test(d.sys_vendor ?? "") ? "QEMU" : null, dmi: d },
    lpt,
    parports: parportDevices(),
    notes,
  };
}

function table(r: Report): string {
  const out: string[] = [];
  const line = (s = "") => out.push(s);
  line(`ioperm probe — ${r.host.platform}/${r.host.arch}, kernel ${r.host.kernel}, backend ${r.host.backend}, uid ${r.host.uid}`);
  if (r.machine.hypervisor) line(`machine: ${r.machine.hypervisor}${r.machine.dmi.product_name ? ` (${r.machine.dmi.product_name})` : ""}`);
  if (r.fwcfg) {
    line();
    line("fw_cfg (0x510)");
    line(
      r.fwcfg.info
        ? `  signature QEMU, DMA ${r.fwcfg.info.dma ? "yes" : "no"}, ${r.fwcfg.info.files.length} files${r.fwcfg.claimedBy ? ` (claimed by ${r.fwcfg.claimedBy}; read-only selector/data access)` : ""}`
        : "  not present",
    );
  }
  if (r.lpt) {
    line();
    line("parallel ports");
    for (const p of r.lpt) {
      const head = `  ${hex(p.base, 3)}  ${p.present ? "present" : "-      "}`;
      if (p.method === "kernel") {
        line(`${head}  kernel view: ${p.kernel ? `${p.kernel.name} modes ${p.kernel.modes.join(",")}` : "no parport entry"}  (${p.note})`);
      } else if (p.probe) {
        const rb = p.probe.readback.map((x) => `${hex(x.wrote, 2)}→${hex(x.read, 2)}`).join(" ");
        line(`${head}  readback ${rb}`);
        if (p.present) {
          const s = p.probe.status;
          const c = p.probe.control;
          const on = (o: object) =>
            Object.entries(o)
              .filter(([k, v]) => k !== "raw" && v === true)
              .map(([k]) => k)
              .join(",") || "none";
          line(`         status ${hex(s.raw, 2)} [${on(s)}]  control ${hex(c.raw, 2)} [${on(c)}]`);
          const m = p.probe.modes;
          if (m)
            line(
              `         mode SPP${m.ps2 ? " + PS/2 bidirectional" : ""}${m.ecp ? ` + ECP (ECR mode ${m.ecrMode})` : ""}; ${m.explain.join("; ")}`,
            );
        }
      }
    }
  }
  if (r.uart) {
    line();
    line("serial ports");
    for (const u of r.uart) {
      const head = `  ${hex(u.base, 3)}  ${u.present ? "present" : "-      "}`;
      if (u.method === "kernel")
        line(`${head}  ${u.type ?? "?"} (kernel: ${u.kernel ? `ttyS${u.kernel.line} irq ${u.kernel.irq}` : "no tty line"}; ${u.note})`);
      else line(`${head}  ${u.type ?? ""}${u.probe ? `  ${u.probe.explain.join("; ")}` : ""}`);
    }
  }
  if (r.rtc) {
    line();
    line(`CMOS RTC (0x70)${r.rtc.claimedBy ? `, claimed by ${r.rtc.claimedBy}: index/data reads only` : ""}`);
    line(
      r.rtc.time
        ? `  ${r.rtc.time}  (${r.rtc.bcd ? "BCD" : "binary"}, ${r.rtc.hour24 ? "24 h" : "12 h"}, status B ${hex(r.rtc.statusB, 2)})`
        : "  no valid time",
    );
  }
  if (r.pci) {
    line();
    line(`PCI (mechanism #1, 0xCF8)${r.pci.claimedBy ? `, claimed by ${r.pci.claimedBy}: config reads only` : ""}`);
    for (const f of r.pci.functions) {
      const names = f.vendorName ? `  ${f.vendorName} ${f.deviceName ?? ""}`.trimEnd() : "";
      line(
        `  ${f.bdf}  ${f.vendor.toString(16).padStart(4, "0")}:${f.deviceId.toString(16).padStart(4, "0")}  ${f.classCode.toString(16).padStart(6, "0")} ${f.classLabel ?? f.className}${f.multiFunction ? " (multi-function)" : ""}${f.headerType === 1 ? " [bridge]" : ""}${names}`,
      );
    }
  }
  if (r.pciPorts?.length) {
    line();
    line("ports on PCI cards");
    for (const p of r.pciPorts) {
      const what = p.uart
        ? `${p.uart.present ? "present" : "-"}  ${p.uart.type ?? ""}${p.uart.note ? ` (${p.uart.note})` : ""}`
        : `${p.lpt?.present ? "present" : "-"}`;
      line(`  ${hex(p.base)}  ${p.kind.padEnd(8)} ${p.bdf} BAR${p.bar}  ${what}`);
    }
  }
  if (r.kcs) {
    const k = r.kcs;
    const d = k.device;
    line();
    line(`IPMI KCS (${hex(k.base)})`);
    line(
      d
        ? `  BMC: device ID ${d.deviceId} rev ${d.deviceRevision}, firmware ${d.firmwareRevision}, IPMI ${d.ipmiVersion}, manufacturer ${d.manufacturerId}, product ${d.productId}`
        : `  ${k.present ? "present" : "-"}`,
    );
    if (k.note) line(`  (${k.note})`);
  }
  if (r.smbus) {
    const m = r.smbus;
    line();
    line(`SMBus${m.controller ? ` ${m.controller.name} at ${hex(m.controller.base)}` : ""}`);
    if (m.addresses) line(`  answering: ${m.addresses.map((a) => hex(a, 2)).join(" ") || "none"}`);
    if (m.note) line(`  (${m.note})`);
  }
  if (r.i8042) {
    const k = r.i8042;
    line();
    line("8042 keyboard controller (0x60/0x64)");
    if (k.selfTest !== null)
      line(`  self-test ${hex(k.selfTest, 2)}${k.selfTest === 0x55 ? " (passed)" : ""}, configuration ${hex(k.config ?? 0, 2)}`);
    else line(`  ${k.present ? "present" : "-"}`);
    if (k.note) line(`  (${k.note})`);
  }
  for (const n of r.notes) line(`note: ${n}`);
  return out.join("\n");
}

const USAGE = `Surveys the legacy hardware that answers: parallel ports, UARTs, the CMOS RTC,
PCI configuration space, QEMU's fw_cfg, a BMC on IPMI KCS, the SMBus host and the 8042.

  ioperm-probe [--json] [--only lpt,uart,rtc,pci,fwcfg,kcs,smbus,i8042] [--force] [--iopl] [--backend auto|direct|devport]
  ioperm-probe --vm [--device SPEC]…   (the same survey inside the lab VM)

Safe by default: reads before it writes, restores what it changes, grants only
the ranges it probes (every port with --iopl, only when asked), and leaves
state-changing detection off ranges the kernel has claimed unless --force.
--json output follows probe.schema.json. Exit: 0 surveyed, 2 no port access, 64 usage.`;

function parseProbeArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      only: { type: "string" },
      force: { type: "boolean", default: false },
      iopl: { type: "boolean", default: false },
      backend: { type: "string", default: "auto" },
      vm: { type: "boolean", default: false },
      device: { type: "string", multiple: true },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
}

/** The probe as a command: resolves with its exit code (the compiled ioperm-probe calls this too). */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseProbeArgs>;
  try {
    parsed = parseProbeArgs(argv);
  } catch (e) {
    console.error(`probe: ${(e as Error).message}\n\n${USAGE}`);
    return 64;
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.vm) {
    const { LabError, runLab } = await import("./lib/lab/index.ts");
    const rest = argv.filter((a, i) => a !== "--vm" && a !== "--device" && argv[i - 1] !== "--device" && !a.startsWith("--device="));
    try {
      const r = await runLab({ command: [process.execPath, join(import.meta.dir, "probe.ts"), ...rest], devices: values.device ?? [] });
      return r.exitCode;
    } catch (e) {
      if (!(e instanceof LabError)) throw e;
      console.error(e.message);
      return 125;
    }
  }
  const only = new Set<Section>();
  for (const s of (values.only ?? SECTIONS.join(","))
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (!(SECTIONS as readonly string[]).includes(s)) {
      console.error(`probe: unknown section "${s}"; choose from ${SECTIONS.join(", ")}`);
      return 64;
    }
    only.add(s as Section);
  }
  const backend = values.backend as BackendName;
  let io: Ioperm;
  let active = "none";
  try {
    io = open({ backend });
    if (values.iopl) io.grantAll();
    else io.grant(0x80, 1); // a harmless port: does this process get port I/O at all?
    active = io.grants().backend;
    if (!values.iopl) io.release();
  } catch (e) {
    if (!(e instanceof IopermError) && !(e instanceof RangeError)) throw e;
    const why = e.message;
    // No port access, but a parallel port the kernel's ppdev offers this user: survey that.
    if ((backend === "auto" || backend === "ppdev") && parportDevices().some((d) => d.usable)) {
      const notes = [`no port access (${why.split(":")[0]}); parallel ports surveyed through ppdev`];
      const report = ppdevReport(surveyPpdev(notes), notes);
      console.log(values.json ? JSON.stringify(report, null, 2) : table(report));
      return 0;
    }
    if (values.json)
      console.log(JSON.stringify({ schema: SCHEMA_ID, error: { code: e instanceof IopermError ? e.code : "RANGE", message: why } }));
    else
      console.error(
        `probe: port I/O is not available here.\n  ${why}\n  To survey the lab VM's hardware instead: ${commandFor("probe --vm")}`,
      );
    return 2;
  }
  try {
    const report = survey(io, only, values.force, active);
    console.log(values.json ? JSON.stringify(report, null, 2) : table(report));
    return 0;
  } catch (e) {
    if (!(e instanceof IopermError)) throw e;
    console.error(`probe: ${e.message}`);
    return 3;
  } finally {
    io.close();
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
