/**
 * The probe's survey policy: which sections run, what the kernel's claims
 * (/proc/ioports) and `force` allow, and what goes in the report. Shipped as
 * `ioperm/probe`, so a script can survey as `ioperm-probe` does:
 *
 * @example
 * import { openForSurvey, renderText, survey } from "ioperm/probe";
 * const { io, backend } = openForSurvey();
 * try {
 *   console.log(renderText(survey(io, { only: ["lpt", "rtc"], backend })));
 * } finally {
 *   io.close();
 * }
 */
import { claimant, pciNames, readFwCfg, readIoports, readPciIds, readRtc, scanPci } from "../devices/index.ts";
import { type BackendName, type Ioperm, open } from "../index.ts";
import { surveyI8042, surveyKcs, surveySmbus } from "./controllers.ts";
import { dmi, hostFacts, parportDevices, withRange } from "./machine.ts";
import { surveyLpt, surveyPciPorts, surveyUart } from "./ports.ts";
import { type Report, SCHEMA_ID, SECTIONS, type Section } from "./report.ts";

/** How to survey. */
export interface SurveyOptions {
  /** The sections to run (default: all of SECTIONS). */
  only?: Iterable<Section>;
  /** Run state-changing detection on ranges the kernel has claimed, or when its claims cannot be read. */
  force?: boolean;
  /** The backend the report names (default: the one this thread's grants use now). */
  backend?: string;
  /** Told how the PCI scan goes; called with "" when it is done. */
  progress?: (text: string) => void;
}

/**
 * The sections a comma-separated list names (`--only lpt,uart`).
 * @throws RangeError naming the unknown section and the ones to choose from
 */
export function parseSections(list: string): Set<Section> {
  const only = new Set<Section>();
  for (const s of list
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (!(SECTIONS as readonly string[]).includes(s)) throw new RangeError(`unknown section "${s}"; choose from ${SECTIONS.join(", ")}`);
    only.add(s as Section);
  }
  return only;
}

/**
 * Opens port access the way the probe needs it: every port with `iopl`, or
 * else nothing held yet (each section grants its own range) after a grant of
 * the harmless port 0x80 showed that this process gets port I/O at all.
 * @returns the handle and the backend it reached ports through
 * @throws IopermError (or RangeError) when this process gets no port access
 */
export function openForSurvey(options: { backend?: BackendName; iopl?: boolean } = {}): { io: Ioperm; backend: string } {
  const io = open({ backend: options.backend ?? "auto" });
  try {
    if (options.iopl) io.grantAll();
    else io.grant(0x80, 1);
    const backend = io.grants().backend;
    if (!options.iopl) io.release();
    return { io, backend };
  } catch (e) {
    io.close();
    throw e;
  }
}

/** Surveys the sections asked for through `io`, under the probe's safety rules (docs/probe.md). */
export function survey(io: Ioperm, options: SurveyOptions = {}): Report {
  const only = new Set(options.only ?? SECTIONS);
  const force = options.force ?? false;
  const backend = options.backend ?? io.grants().backend;
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
    const progress = options.progress ?? (() => {});
    progress("scanning PCI bus 00…");
    const scan = () => scanPci(io, (bus, n) => progress(`scanned PCI bus ${bus.toString(16).padStart(2, "0")}: ${n} functions so far`));
    // Windows: the driver does each configuration read itself and keeps 0xCF8-0xCFF denylisted, so nothing is granted.
    const functions = process.platform === "win32" ? scan() : withRange(io, 0xcf8, 8, scan);
    progress("");
    const ids = readPciIds();
    if (!ids) notes.push("no pci.ids (Debian: apt-get install pci.ids): PCI functions are shown by ID only");
    report.pci = { claimedBy, functions: functions.map((f) => ({ ...f, ...pciNames(ids, f.vendor, f.deviceId, f.classCode) })) };
    // Serial and parallel ports on PCI cards sit where the firmware put them: found through their I/O BARs.
    report.pciPorts = claims || force ? surveyPciPorts(io, functions, claims, force, notes) : [];
  }
  // The controllers: surveyed only where the kernel's claims can be seen (or forced), like LPT and UART.
  const guarded = claims !== undefined || force;
  if (only.has("kcs")) report.kcs = guarded ? surveyKcs(io, safeClaims, force) : null;
  if (only.has("smbus") && bytesOnly) byteNote("SMBus");
  else if (only.has("smbus")) report.smbus = guarded ? surveySmbus(io, safeClaims, force) : null;
  if (only.has("i8042")) report.i8042 = guarded ? surveyI8042(io, safeClaims, force) : null;
  report.machine.hypervisor = report.fwcfg?.present || /QEMU/i.test(d.sys_vendor ?? "") ? "QEMU" : null;
  if ((only.has("lpt") || only.has("uart")) && !claims && !force)
    notes.push("LPT and UART detection skipped: run as root so /proc/ioports shows the kernel's claims, or pass --force");
  return report;
}
