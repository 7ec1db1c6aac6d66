/**
 * The probe's output: a report as text (what `ioperm-probe` prints without
 * --json) or JSON (probe.schema.json), the refusal when there is no port
 * access, and progress on a terminal.
 */
import { hex } from "../format.ts";
import { commandFor } from "../where.ts";
import { type Refusal, type Report, SCHEMA_ID } from "./report.ts";

/** The report as --json prints it. */
export const renderJson = (r: Report): string => JSON.stringify(r, null, 2);

/** The refusal as --json prints it: the error's code (RANGE for a RangeError) and message. */
export const refusalJson = (code: string, message: string): string =>
  JSON.stringify({ schema: SCHEMA_ID, error: { code, message } } satisfies Refusal);

/** The refusal as text: the reason, and the command that surveys the lab VM instead. */
export const refusalText = (message: string): string =>
  `probe: port I/O is not available here.\n  ${message}\n  To survey the lab VM's hardware instead: ${commandFor("probe --vm")}`;

/** Progress on one self-erasing line of a terminal; nothing when stderr is a file or a pipe ("" erases it). */
export function ttyProgress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
}

/** The report as the probe prints it without --json: one block per section, then the notes. */
export function renderText(r: Report): string {
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
