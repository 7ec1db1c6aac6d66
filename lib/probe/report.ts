/**
 * The probe's report: the TypeScript side of probe.schema.json
 * (`ioperm-probe/1`, whose fields are only ever added).
 */
import type { FwCfg, KernelParport, KernelUart, LptProbe, PciFunction, pciNames, UartProbe } from "../devices/index.ts";
import type { I8042Entry, KcsEntry, SmbusEntry } from "./controllers.ts";

/** The schema id every report (and every refusal) carries. */
export const SCHEMA_ID = "ioperm-probe/1";

/** The survey's sections, in the order they run. */
export const SECTIONS = ["fwcfg", "lpt", "uart", "rtc", "pci", "kcs", "smbus", "i8042"] as const;
/** One section of the survey (`--only`). */
export type Section = (typeof SECTIONS)[number];

/** A parallel port, as the probe reports it. */
export interface LptEntry {
  base: number;
  present: boolean;
  /** How it was found: "readback" (the probe wrote and read), "ppdev" (readback through /dev/parportN), "kernel" (the driver's view), "skipped". */
  method: "readback" | "ppdev" | "kernel" | "skipped";
  claimedBy: string | null;
  probe: LptProbe | null;
  kernel: KernelParport | null;
  note: string | null;
}

/** A UART, as the probe reports it. */
export interface UartEntry {
  base: number;
  present: boolean;
  method: "probe" | "kernel" | "skipped";
  claimedBy: string | null;
  type: string | null;
  probe: UartProbe | null;
  kernel: KernelUart | null;
  note: string | null;
}

/** A serial or parallel port on a PCI card, found through the card's I/O BAR. */
export interface PciPortEntry {
  bdf: string;
  kind: "serial" | "parallel";
  bar: number;
  base: number;
  uart: UartEntry | null;
  lpt: LptEntry | null;
}

/** The DMI fields the probe reports (/sys/class/dmi/id), each present when the firmware sets it. */
export const dmiFields = ["sys_vendor", "product_name", "bios_vendor", "bios_version", "board_vendor"] as const;
/** The DMI block of a report. */
export type Dmi = Partial<Record<(typeof dmiFields)[number], string>>;

/** A ppdev device (/dev/parportN) and whether this user may open it. */
export interface ParportDevice {
  device: string;
  usable: boolean;
}

/** A survey's report: what `ioperm-probe --json` prints. */
export interface Report {
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
  parports?: ParportDevice[];
  /** A BMC on IPMI KCS (0xCA2), the SMBus host, the 8042 (lib/probe/controllers.ts). */
  kcs?: KcsEntry | null;
  smbus?: SmbusEntry | null;
  i8042?: I8042Entry | null;
  notes: string[];
}

/** What `--json` prints when the probe gets no port access. */
export interface Refusal {
  schema: typeof SCHEMA_ID;
  error: { code: string; message: string };
}
