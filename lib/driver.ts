/**
 * The Windows driver (ioperm.sys) as a kernel service: install, uninstall,
 * status and version, through the Service Control Manager in ioperm.dll.
 * Nothing here runs on module load: installing a driver is always explicit.
 * On other platforms every call throws IopermError UNSUPPORTED.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { errorFor, localError } from "./errors.ts";
import { native, nativeDiagnosis } from "./ffi.ts";
import { devWindowsDir, prebuiltDir } from "./paths.ts";
import { Status } from "./status.ts";

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

/** Service state; "not-installed" when the service does not exist. */
export function driverStatus(): DriverState {
  const s = native().ioperm_driver_status();
  if (s === Status.DRIVER_NOT_INSTALLED) return "not-installed";
  const states: Record<number, DriverState> = { 1: "stopped", 2: "start-pending", 3: "stop-pending", 4: "running" };
  return states[check(s, "driverStatus")] ?? "stopped";
}

/** Asks the running driver for its version (opens the device; touches no port). */
export function driverVersion(): DriverVersion {
  const v = new Uint32Array(6);
  check(native().ioperm_driver_version(v), "driverVersion");
  const [protocol = 0, driverVersion = 0, capabilities = 0, maxBatch = 0, opSize = 0, pointerBits = 0] = v;
  return { protocol, driverVersion, capabilities, maxBatch, opSize, pointerBits };
}

export interface InstallOptions {
  /** Start with Windows instead of on demand (the default: started now, and by installDriver). */
  autoStart?: boolean;
}

/**
 * Registers ioperm.sys as a kernel service and starts it. Needs an elevated
 * process. `sysPath` defaults to the built driver for this architecture.
 */
export function installDriver(sysPath = builtDriverPath(), options: InstallOptions = {}): void {
  if (process.platform === "win32" && !existsSync(sysPath)) {
    throw localError("LOAD_FAILED", `installDriver: ${sysPath} does not exist; build it with \`npm run build:windows\``, "installDriver");
  }
  check(native().ioperm_driver_install(Buffer.from(`${sysPath}\0`, "utf8"), options.autoStart ? 1 : 0), "installDriver");
}

/** Stops and deletes the service. Needs an elevated process. */
export function uninstallDriver(): void {
  check(native().ioperm_driver_uninstall(), "uninstallDriver");
}
