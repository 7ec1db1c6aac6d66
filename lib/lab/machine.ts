// The lab's machines, described once: the standard devices every run has (their
// ports, their witness files, the debug-exit port the guest's /init writes to)
// and the named profiles (`--machine server`) that add to them. QEMU's
// arguments (vm.ts), the preflight's port names (preflight.ts), the kernel
// command line the guest's init.sh reads and the usage text (cli/lab.ts) all
// derive from these tables.
import { hexLower as hex } from "../format.ts";

/** One of the standard machine's devices at a fixed I/O port. */
export interface StandardDevice {
  /** Name in messages and usage, e.g. "COM2". */
  label: string;
  port: number;
  /** Ports it decodes, from `port`. */
  size: number;
  /** The witness file it writes, `<run>/<file>.out`, named `file` in LabResult.files; none for the console and debug-exit. */
  file?: "com2" | "lpt1" | "debugcon";
  /** What it does for the lab, in the usage text ("is the console"). */
  role: string;
  /** How QEMU gets it: the n-th -serial or -parallel sits at QEMU's default port for that index. */
  qemu: "console" | "serial" | "parallel" | "debugcon" | "debug-exit";
}

/** The standard machine's devices at fixed ports, in the order QEMU gets them. */
export const standardDevices = [
  { label: "COM1", port: 0x3f8, size: 8, role: "is the console", qemu: "console" },
  { label: "COM2", port: 0x2f8, size: 8, file: "com2", role: "every byte the UART sends", qemu: "serial" },
  { label: "LPT1", port: 0x378, size: 8, file: "lpt1", role: "every byte latched by STROBE", qemu: "parallel" },
  { label: "debugcon", port: 0xe9, size: 1, file: "debugcon", role: "every byte written", qemu: "debugcon" },
  { label: "isa-debug-exit", port: 0xf4, size: 4, role: "ends QEMU when the guest's /init writes to it", qemu: "debug-exit" },
] as const satisfies readonly StandardDevice[];

/** The port the guest's /init writes to end QEMU at once (kernel command line `lab.exit=`). */
export const debugExitPort = standardDevices[4].port;

/** One extra device a profile adds: a QEMU -device spec, and where it sits when it has fixed ports. */
export interface ProfileDevice {
  spec: string;
  label: string;
  port?: number;
  size?: number;
}

/** A named lab machine: QEMU's machine type and the devices it adds to the standard ones. */
export interface MachineProfile {
  /** QEMU's `-M`. */
  type: "pc" | "q35";
  /** One line for the usage text and docs. */
  summary: string;
  devices: readonly ProfileDevice[];
}

/** The lab's machines by name; "standard" is the default. */
export const machineProfiles = {
  standard: {
    type: "pc",
    summary: "i440FX/PIIX3 PC: PIIX4 ACPI with its SMBus (piix4_smbus, SPD EEPROMs at 0x50-0x57), RTC, i8042, std VGA (Bochs VBE), fw_cfg",
    devices: [],
  },
  server: {
    type: "pc",
    summary: "standard plus a BMC (ipmi-bmc-sim) on IPMI KCS at 0xca2-0xca3, listed by ACPI as IPI0001",
    devices: [
      { spec: "ipmi-bmc-sim,id=labbmc", label: "BMC (ipmi-bmc-sim)" },
      { spec: "isa-ipmi-kcs,bmc=labbmc", label: "BMC KCS", port: 0xca2, size: 2 },
    ],
  },
  q35: {
    type: "q35",
    summary: "Q35/ICH9 PC: ICH9 SMBus (i2c-i801, SPD EEPROMs at 0x50-0x57), AHCI, PCIe, the standard legacy devices",
    devices: [],
  },
} as const satisfies Record<string, MachineProfile>;

/** A name `--machine` takes. */
export type MachineName = keyof typeof machineProfiles;

/** The profile of a name; a RangeError listing the names for any other. */
export function machineProfile(name: string = "standard"): MachineProfile {
  if (!Object.hasOwn(machineProfiles, name))
    throw new RangeError(`lab: unknown machine ${JSON.stringify(name)}; the lab has ${Object.keys(machineProfiles).join(", ")}`);
  return machineProfiles[name as MachineName];
}

/** Port -> who has it in the machine ("the standard machine's LPT1"), for the preflight's clash messages. */
export function machinePorts(profile: MachineProfile): Map<number, string> {
  const ports = new Map<number, string>();
  for (const d of standardDevices)
    ports.set(d.port, `the standard machine's ${d.qemu === "console" ? `${d.label} (the lab's console)` : d.label}`);
  for (const d of profile.devices) if (d.port !== undefined) ports.set(d.port, `the machine profile's ${d.label}`);
  return ports;
}

/** Words filled into lines of at most `width` columns, each after `indent`. */
function fill(text: string, width: number, indent: string, first = indent): string {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(" ")) {
    if (line.length + word.length + 1 > width && line.trim() !== "") {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${word} `;
  }
  return [...lines, line.trimEnd()].join("\n");
}

/** The usage text's description of the machines, from the tables. */
export function machinesUsage(): string {
  const devices = standardDevices.map((d) =>
    "file" in d ? `${d.label} (${hex(d.port)}) -> <run>/${d.file}.out;` : `${d.label} (${hex(d.port)}) ${d.role};`,
  );
  const names = Object.entries(machineProfiles).map(([name, p]) => fill(p.summary, 78, " ".repeat(12), `  ${name.padEnd(10)}`));
  return `${fill(`Every machine: ${devices.join(" ").replace(/;$/, ".")}`, 78, "")}\n--machine NAME picks the rest (default standard):\n${names.join("\n")}`;
}
