/**
 * Names for PCI IDs from the system's pci.ids (Debian's pci.ids package, which
 * lspci reads too). Without the file, names are null and IDs are shown alone.
 */
import { readText } from "../read.ts";

/** Vendor, device and class names, as pci.ids lists them. */
export interface PciIds {
  vendors: Map<number, { name: string; devices: Map<number, string> }>;
  /** class << 8 | subclass → name; class alone under class << 8 | 0xff. */
  classes: Map<number, string>;
}

/** Where Debian (and most distributions) keep pci.ids. */
export const PCI_IDS_PATHS = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"] as const;

/** Parses pci.ids: vendor lines, tab-indented devices, and "C xx" class blocks with their subclasses. */
export function parsePciIds(text: string): PciIds {
  const ids: PciIds = { vendors: new Map(), classes: new Map() };
  let vendor: { name: string; devices: Map<number, string> } | undefined;
  let cls: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    let m = /^C ([0-9a-f]{2})\s+(.*)$/.exec(line);
    if (m) {
      cls = Number.parseInt(m[1] ?? "", 16);
      vendor = undefined;
      ids.classes.set((cls << 8) | 0xff, m[2] ?? "");
      continue;
    }
    m = /^([0-9a-f]{4})\s+(.*)$/.exec(line);
    if (m) {
      vendor = { name: m[2] ?? "", devices: new Map() };
      cls = undefined;
      ids.vendors.set(Number.parseInt(m[1] ?? "", 16), vendor);
      continue;
    }
    m = /^\t([0-9a-f]{2,4})\s+(.*)$/.exec(line);
    if (!m) continue; // subsystem lines (two tabs) and prog-ifs
    if (vendor && (m[1] ?? "").length === 4) vendor.devices.set(Number.parseInt(m[1] ?? "", 16), m[2] ?? "");
    else if (cls !== undefined && (m[1] ?? "").length === 2) ids.classes.set((cls << 8) | Number.parseInt(m[1] ?? "", 16), m[2] ?? "");
  }
  return ids;
}

/** The system's pci.ids, parsed; undefined when no file is there. */
export function readPciIds(paths: readonly string[] = PCI_IDS_PATHS): PciIds | undefined {
  for (const p of paths) {
    const text = readText(p);
    if (text !== undefined) return parsePciIds(text);
  }
  return undefined;
}

/** Names of one function's vendor, device and class (subclass), null where pci.ids has none. */
export function pciNames(ids: PciIds | undefined, vendor: number, device: number, classCode: number) {
  const v = ids?.vendors.get(vendor);
  return {
    vendorName: v?.name ?? null,
    deviceName: v?.devices.get(device) ?? null,
    classLabel: ids?.classes.get(classCode >> 8) ?? ids?.classes.get(((classCode >> 16) << 8) | 0xff) ?? null,
  };
}
