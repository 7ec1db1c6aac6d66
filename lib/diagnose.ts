/**
 * Why Linux refuses this process port I/O, found on the system rather than
 * guessed: kernel lockdown, a seccomp filter, root without CAP_SYS_RAWIO, not
 * root, a kernel without CONFIG_X86_IOPL_IOPERM, no /dev/port, a high range on
 * a kernel before 5.5. `readFacts()` gathers what the kernel says; `causes()`
 * is pure logic over those facts, so each rule is tested on its own and each
 * cause is also created for real in the lab (test/lab/doctor.lab.ts).
 */
import { accessSync, constants, existsSync } from "node:fs";
import { readText as read } from "./read.ts";
import { Errno } from "./status.ts";
import { labCommand } from "./where.ts";

/** What the system says, read from /sys and /proc. */
export interface Facts {
  /** "none", "integrity" or "confidentiality"; null when the lockdown LSM is not visible (securityfs unmounted or no LSM). */
  lockdown: string | null;
  uid: number;
  /** CAP_SYS_RAWIO in the effective set. */
  rawio: boolean;
  /** CAP_SYS_RAWIO in the bounding set (what a container or setpriv left this process able to get). */
  rawioBounding: boolean;
  /** Seccomp: 0 none, 1 strict, 2 filter. */
  seccomp: number;
  devPort: boolean;
  /** `uname -r` as major.minor, e.g. [6, 1]. */
  kernel: [number, number];
}

/**
 * Why this thread's last grant (or, on Windows, driver call) failed, as the
 * native library recorded it: zig/src/platform.zig `Diagnosis`, read by
 * `nativeDiagnosis()` in lib/ffi.ts. 0 or undefined where a backend was not
 * tried or did not fail.
 */
export interface Diagnosis {
  /**
   * The first backend's answer. Linux: the errno of ioperm/iopl (direct), or of
   * the ppdev claim on a ppdev handle. Windows: the Win32 error of the failed
   * driver or service call.
   */
  osError?: number | undefined;
  /** Linux: the errno of opening /dev/port, when the grant fell back to it. */
  devportErrno?: number | undefined;
}

/** What the last grant's backends answered (Linux), and which ports it asked for. */
export interface Attempt extends Diagnosis {
  /** The highest port of the refused range, when known. */
  lastPort?: number | undefined;
}

/** One cause of refusal, present on this system, with its one remedy. */
export interface Cause {
  id: "lockdown" | "seccomp" | "no-rawio-cap" | "not-root" | "no-ioperm-syscall" | "no-dev-port" | "high-range-old-kernel";
  /** What is the case, in one line. */
  what: string;
  /** The one thing to do about it. */
  remedy: string;
}

const { EPERM, ENOENT, EINVAL, ENOSYS } = Errno;
/** CAP_SYS_RAWIO's bit in /proc/<pid>/status Cap* masks (<linux/capability.h>; test/diagnose.test.ts checks it). */
export const CAP_SYS_RAWIO = 17n;

const hasCap = (hex: string | undefined, cap: bigint) => hex !== undefined && (BigInt(`0x${hex}`) & (1n << cap)) !== 0n;

/** Reads the facts about this process and kernel (Linux). */
export function readFacts(): Facts {
  const status = read("/proc/self/status") ?? "";
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(status)?.[1];
  // "[none] integrity confidentiality": the bracketed word is the mode in force.
  const lockdown = /\[(\w+)\]/.exec(read("/sys/kernel/security/lockdown") ?? "")?.[1] ?? null;
  const [major = 0, minor = 0] = (read("/proc/sys/kernel/osrelease") ?? "0.0").split(".").map((n) => Number.parseInt(n, 10));
  return {
    lockdown,
    uid: process.getuid?.() ?? -1,
    rawio: hasCap(field("CapEff"), CAP_SYS_RAWIO),
    rawioBounding: hasCap(field("CapBnd"), CAP_SYS_RAWIO),
    seccomp: Number(field("Seccomp") ?? 0),
    devPort: existsSync("/dev/port"),
    kernel: [major, minor],
  };
}

/**
 * The causes present, most fundamental first: what refuses even root comes
 * before what root would fix. Only causes the facts (or the kernel's answers
 * in `attempt`) show are named.
 */
export function causes(f: Facts, attempt: Attempt = {}): Cause[] {
  const out: Cause[] = [];
  if (attempt.osError === ENOSYS) {
    out.push({
      id: "no-ioperm-syscall",
      what: `this kernel was built without CONFIG_X86_IOPL_IOPERM: ioperm and iopl do not exist (ENOSYS)${f.devPort ? "" : ", and /dev/port is missing too"}`,
      remedy: f.devPort
        ? 'use /dev/port: open({ backend: "devport" }) (8-bit accesses only)'
        : `run it on a kernel with CONFIG_X86_IOPL_IOPERM=y, or in the lab VM: ${labCommand()}`,
    });
  } else if (!f.devPort && attempt.devportErrno === ENOENT) {
    out.push({
      id: "no-dev-port",
      what: "/dev/port does not exist (a kernel without CONFIG_DEVPORT)",
      remedy: 'use the direct backend (ioperm/iopl): open({ backend: "direct" })',
    });
  }
  if (f.lockdown !== null && f.lockdown !== "none") {
    out.push({
      id: "lockdown",
      what: `the kernel is in lockdown (${f.lockdown}, usually because Secure Boot is on): it refuses ioperm, iopl and /dev/port even to root`,
      remedy:
        "turn Secure Boot off in the firmware (or boot a kernel without lockdown); for a parallel port, the ppdev driver (/dev/parportN) still works",
    });
  }
  if (f.seccomp === 2 && attempt.osError === EPERM) {
    out.push({
      id: "seccomp",
      what: "a seccomp filter is installed on this process (Seccomp: 2 in /proc/self/status), and ioperm was refused",
      remedy: "allow ioperm and iopl in the filter (Docker/Podman: --security-opt seccomp=<profile allowing ioperm, iopl>)",
    });
  }
  if (f.uid === 0 && !f.rawio) {
    out.push({
      id: "no-rawio-cap",
      what: `this process is root but lacks CAP_SYS_RAWIO${f.rawioBounding ? "" : " (it is not even in the bounding set: a container or a capability drop)"}`,
      remedy:
        "give it the one capability: docker/podman run --cap-add SYS_RAWIO (not --privileged), or keep cap_sys_rawio when dropping capabilities",
    });
  }
  if (f.uid !== 0 && !f.rawio) {
    out.push({
      id: "not-root",
      what: `this process runs as uid ${f.uid} without CAP_SYS_RAWIO`,
      remedy: "run as root (sudo), or give Bun the one capability: sudo setcap cap_sys_rawio+ep $(readlink -f $(which bun))",
    });
  }
  if (attempt.osError === EINVAL && (f.kernel[0] < 5 || (f.kernel[0] === 5 && f.kernel[1] < 5)) && (attempt.lastPort ?? 0) > 0x3ff) {
    out.push({
      id: "high-range-old-kernel",
      what: `kernel ${f.kernel.join(".")} grants only ports below 0x400 through ioperm (5.5 lifted that)`,
      remedy: "use grantAll() (iopl) for ports at 0x400 and above",
    });
  }
  return out;
}

/** The sentence an error carries: the causes present and their remedies, or "" when none is shown. */
export function explainCauses(list: Cause[]): string {
  return list.map((c) => `${c.what}; remedy: ${c.remedy}`).join(". Also: ");
}

/** Whether the calling user may open `path` for reading and writing (ppdev, /dev/port). */
export function canOpen(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
