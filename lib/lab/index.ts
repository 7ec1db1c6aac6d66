/**
 * The lab as a library: `import { runLab } from "ioperm/lab"` boots a QEMU PC
 * whose root filesystem is this host's (read-only, under a throwaway overlay),
 * runs a command as root in it, in your project directory, against real x86
 * I/O ports, and tells you what the devices received (host files QEMU wrote).
 * QEMU, a static busybox and Debian's kernel are found or installed on first
 * use into a per-user cache (labCacheDir()).
 *
 * @example
 * import { runLab } from "ioperm/lab";
 * const { exitCode, files } = await runLab({ command: ["bun", "rig.ts"] });
 * const lpt = await Bun.file(files.lpt1).bytes(); // every byte strobed out of LPT1
 */
export { LabError, type LabErrorReason } from "./errors.ts";
export { type MachineName, type MachineProfile, machineProfiles, machinesUsage } from "./machine.ts";
export { type Kernel, type LabTools, labCacheDir, prepareLab } from "./toolchain.ts";
export { type LabFiles, type LabOptions, type LabResult, labLimits, runLab } from "./vm.ts";
