/**
 * What the machine says about itself, read from /proc, /sys and /dev (never
 * from a port), and the one rule for reaching ports: grant a range only while
 * it is surveyed.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type KernelParport, parseParportEntry } from "../devices/index.ts";
import { canOpen } from "../diagnose.ts";
import type { Ioperm } from "../index.ts";
import { readText } from "../read.ts";
import { type Dmi, dmiFields, type ParportDevice, type Report } from "./report.ts";

/** The DMI fields the firmware sets (/sys/class/dmi/id). */
export function dmi(): Dmi {
  const out: Dmi = {};
  for (const k of dmiFields) {
    const v = readText(`/sys/class/dmi/id/${k}`)?.trim();
    if (v) out[k] = v;
  }
  return out;
}

/** The report's host block: this process, its kernel, and how ports were reached. */
export function hostFacts(backend: string, grant: "ranges" | "iopl"): Report["host"] {
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

/** The kernel's parallel ports (/proc/sys/dev/parport): base and modes. */
export function kernelParports(): KernelParport[] {
  const dir = "/proc/sys/dev/parport";
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.startsWith("parport"))
    .map((n) => parseParportEntry(n, readText(join(dir, n, "base-addr")) ?? "0", readText(join(dir, n, "modes")) ?? ""));
}

/** The ppdev devices (/dev/parportN) and whether this user may open them. */
export function parportDevices(): ParportDevice[] {
  const names = existsSync("/dev") ? readdirSync("/dev").filter((d) => /^parport\d+$/.test(d)) : [];
  return names.sort().map((d) => ({ device: `/dev/${d}`, usable: canOpen(`/dev/${d}`) }));
}

/** Grants a range for one step and releases it after, so the probe holds only what it uses (everything is granted already under --iopl). */
export function withRange<T>(io: Ioperm, from: number, count: number, f: () => T): T {
  if (io.grants().all) return f();
  io.grant(from, count);
  try {
    return f();
  } finally {
    io.release(from, count);
  }
}
