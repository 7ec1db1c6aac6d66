/**
 * The Windows driver (ioperm.sys) as a kernel service: install, uninstall,
 * status and version, through the Service Control Manager in ioperm.dll.
 * Nothing here runs on module load: installing a driver is always explicit.
 * On other platforms every call throws IopermError UNSUPPORTED.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { errorFor, localError } from "./errors.ts";
import { native, nativeDiagnosis } from "./ffi.ts";
import { devWindowsDir, prebuiltDir } from "./paths.ts";
import { Status } from "./status.ts";

/** The driver service's state as the SCM reports it, or not-installed. */
export type DriverState = "not-installed" | "stopped" | "start-pending" | "stop-pending" | "running";

/** The running driver's version block (IOPERM_VERSION_INFO in windows-driver/include/ioperm_ioctl.h). */
export interface DriverVersion {
  protocol: number;
  driverVersion: number;
  capabilities: number;
  maxBatch: number;
  opSize: number;
  pointerBits: number;
}

/** The ioperm.sys for this process's architecture: the installed package's prebuilt one, else the development build's. */
export function builtDriverPath(): string {
  const prebuilt = join(prebuiltDir(), "ioperm.sys");
  return existsSync(prebuilt) ? prebuilt : join(devWindowsDir(process.arch === "ia32" ? "x86" : "x64"), "ioperm.sys");
}

function check(status: number, op: string): number {
  if (status >= 0) return status;
  throw errorFor(status, { op, diagnosis: nativeDiagnosis() });
}

/**
 * The Win32 service states (SERVICE_STOPPED … SERVICE_RUNNING in winsvc.h) a
 * kernel driver can be in; test/windows/constants.test.ts checks the numbers
 * against MinGW's winsvc.h.
 */
export const SERVICE_STATES: Record<number, Exclude<DriverState, "not-installed">> = {
  1: "stopped",
  2: "start-pending",
  3: "stop-pending",
  4: "running",
};

/** Service state; "not-installed" when the service does not exist. */
export function driverStatus(): DriverState {
  const s = native().ioperm_driver_status();
  if (s === Status.DRIVER_NOT_INSTALLED) return "not-installed";
  const state = SERVICE_STATES[check(s, "driverStatus")];
  if (state === undefined) throw errorFor(Status.DRIVER_IO, { op: "driverStatus" });
  return state;
}

/** IOPERM_VERSION_INFO's fields in the header's order (checked by test/windows/constants.test.ts). */
export const VERSION_FIELDS = ["protocol", "driverVersion", "capabilities", "maxBatch", "opSize", "pointerBits"] as const;

/** Asks the running driver for its version (opens the device; touches no port). */
export function driverVersion(): DriverVersion {
  const v = new Uint32Array(VERSION_FIELDS.length);
  check(native().ioperm_driver_version(v), "driverVersion");
  return Object.fromEntries(VERSION_FIELDS.map((f, i) => [f, v[i] ?? 0])) as unknown as DriverVersion;
}

/**
 * Windows: one dword of PCI configuration space, read by the driver
 * (IOCTL_IOPERM_PCI_READ) since 0xCF8-0xCFF are on its denylist. Arguments are
 * checked by the caller (lib/devices/pci.ts `pciRead32`, which is the one to use).
 */
export function driverPciRead32(bus: number, device: number, fn: number, offset: number): number {
  const v = new Uint32Array(1);
  check(native().ioperm_pci_read32(bus, device, fn, offset, v), "pciRead32");
  return v[0] ?? 0;
}

/** How installDriver registers the service. */
export interface InstallOptions {
  /** Start with Windows instead of on demand (the default: started now, and by installDriver). */
  autoStart?: boolean;
}

/** Where installDriver puts the driver: %SystemRoot%\\System32\\drivers\\ioperm.sys, writable by administrators only. */
export function installedDriverPath(): string {
  const { SystemRoot, windir } = process.env;
  return `${SystemRoot ?? windir ?? "C:\\Windows"}\\System32\\drivers\\ioperm.sys`;
}

/** What installDriver did. */
export interface InstalledDriver {
  /** The installed copy, in System32\\drivers. */
  path: string;
  /** Its SHA-256, which is the one built into ioperm.dll. */
  sha256: string;
  /**
   * Ports at 0x400 and above that the started driver's allowlist admits (0 with
   * the default one): PCI I/O BARs and the chipset's ACPI PM and SMI registers
   * live there, which the compiled denylist cannot cover; see allowlistWarning.
   */
  portsAbove0x400: number;
}

/** Every port from 0x400 to 0xFFFF. */
const NON_ISA_PORTS = 0x10000 - 0x400;

/**
 * The warning `driver install` prints for an allowlist that reaches past the
 * legacy ISA ports, or null when it does not. A bus-master device's I/O BAR can
 * start DMA into kernel memory, and the ACPI PM and SMI registers can power the
 * machine off or enter SMM; their addresses differ per machine, so no
 * compiled-in list can exclude them.
 */
export function allowlistWarning(portsAbove0x400: number): string | null {
  if (portsAbove0x400 <= 0) return null;
  return (
    `warning: the driver's allowlist (HKLM\\SYSTEM\\CurrentControlSet\\Services\\ioperm\\Parameters\\AllowedPorts) admits ${portsAbove0x400} of the ${NON_ISA_PORTS} ports from 0x400 to 0xFFFF, ` +
    "where PCI I/O BARs and the chipset's ACPI PM and SMI registers sit. The compiled denylist cannot cover them: " +
    "a bus-master device programmed through its I/O BAR can DMA into kernel memory. List only the ports your hardware uses."
  );
}

/**
 * Copies ioperm.sys into System32\\drivers, registers that copy as a kernel
 * service and starts it (never the build output a user could replace). Needs an
 * elevated process. `sysPath` defaults to the package's driver for this
 * architecture, and must be that driver: ioperm.dll reads it through a handle
 * that denies writers and installs it only if its SHA-256 is the one built into
 * the DLL (IopermError DRIVER_MISMATCH otherwise, nothing installed). Returns the
 * installed file, its SHA-256, and what the allowlist admits above the ISA ports.
 */
export function installDriver(sysPath = builtDriverPath(), options: InstallOptions = {}): InstalledDriver {
  if (process.platform === "win32" && !existsSync(sysPath)) {
    throw localError("LOAD_FAILED", `installDriver: ${sysPath} does not exist; build it with \`npm run build:windows\``, "installDriver");
  }
  const portsAbove0x400 = check(
    native().ioperm_driver_install(Buffer.from(`${sysPath}\0`, "utf8"), options.autoStart ? 1 : 0),
    "installDriver",
  );
  const path = installedDriverPath();
  return { path, sha256: new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex"), portsAbove0x400 };
}

/** Stops and deletes the service, and removes the installed driver file. Needs an elevated process. */
export function uninstallDriver(): void {
  check(native().ioperm_driver_uninstall(), "uninstallDriver");
}
