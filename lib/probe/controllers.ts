/**
 * The probe's survey of the controllers (issue #20): a BMC on KCS, the SMBus
 * host with the addresses that answer, and the 8042. The probe's rules hold:
 * a range a driver holds (not merely one firmware describes) is reported from
 * the kernel's view and left untouched unless forced; everything is restored;
 * each range is granted only while it is surveyed.
 */
import { existsSync, readdirSync } from "node:fs";
import { ControllerError } from "../devices/controller.ts";
import { i8042SelfTest } from "../devices/i8042.ts";
import type { Claim } from "../devices/ioports.ts";
import { getDeviceId, type IpmiDeviceId, KCS_BASE, kcsStatus } from "../devices/kcs.ts";
import { portOwner, type SmbusController, SmbusHost } from "../devices/smbus.ts";
import type { Ioperm } from "../index.ts";
import { withRange } from "./machine.ts";

/** How an entry was found: the probe asked the device, or reported the kernel's view of a range a driver holds. */
export type ControllerMethod = "probe" | "kernel";

/** A BMC on KCS, as the probe reports it. */
export interface KcsEntry {
  base: number;
  present: boolean;
  method: ControllerMethod;
  /** The driver holding the range (ipmi_si), or null. */
  claimedBy: string | null;
  /** What only describes the range (ACPI's IPI0001:00), or null. */
  describedBy: string | null;
  /** The status register as read (0xFF: nothing there), or null when not read. */
  status: number | null;
  device: IpmiDeviceId | null;
  note: string | null;
}

/** The SMBus host, as the probe reports it. */
export interface SmbusEntry {
  controller: SmbusController | null;
  method: ControllerMethod;
  claimedBy: string | null;
  describedBy: string | null;
  /** The 7-bit addresses that answered an i2cdetect-style scan, or null when not scanned. */
  addresses: number[] | null;
  note: string | null;
}

/** The 8042, as the probe reports it. */
export interface I8042Entry {
  present: boolean;
  method: ControllerMethod;
  claimedBy: string | null;
  describedBy: string | null;
  /** The self-test's answer (0x55 passed), or null when not run. */
  selfTest: number | null;
  /** The configuration byte as found, or null when not read. */
  config: number | null;
  note: string | null;
}

const why = (e: unknown): string => {
  if (e instanceof ControllerError) return `${e.code}: ${e.message}`;
  throw e;
};

/** A BMC at the KCS base: Get Device ID when no driver holds the range (or forced), else the kernel's view. */
export function surveyKcs(io: Ioperm, claims: readonly Claim[], force: boolean, base = KCS_BASE): KcsEntry {
  const { driver, firmware } = portOwner(claims, base, 2);
  const entry: KcsEntry = {
    base,
    present: false,
    method: "probe",
    claimedBy: driver,
    describedBy: firmware,
    status: null,
    device: null,
    note: null,
  };
  if (driver && !force) {
    const devices = existsSync("/dev") ? readdirSync("/dev").filter((d) => /^ipmi\d+$/.test(d)) : [];
    return {
      ...entry,
      present: true,
      method: "kernel",
      note: `claimed by ${driver}: no KCS transfer made (--force to override); the kernel offers ${devices.map((d) => `/dev/${d}`).join(", ") || "no /dev/ipmiN (load ipmi_devintf)"}`,
    };
  }
  return withRange(io, base, 2, () => {
    const st = kcsStatus(io, { base });
    entry.status = st.raw;
    if (st.raw === 0xff) return { ...entry, note: "status register reads 0xFF: no KCS interface" };
    try {
      entry.device = getDeviceId(io, { base });
      entry.present = true;
    } catch (e) {
      entry.note = why(e);
    }
    if (firmware) entry.note = [entry.note, `described by ${firmware} (firmware, no driver bound)`].filter(Boolean).join("; ");
    return entry;
  });
}

/** The SMBus host and the addresses that answer; the kernel's view when a driver holds it and not forced. */
export function surveySmbus(io: Ioperm, claims: readonly Claim[], force: boolean): SmbusEntry {
  const entry: SmbusEntry = { controller: null, method: "probe", claimedBy: null, describedBy: null, addresses: null, note: null };
  return withRange(io, 0xcf8, 8, () => {
    try {
      const { host, controller, owner } = SmbusHost.open(io, { claims, force: true });
      entry.controller = controller;
      entry.claimedBy = owner.driver;
      entry.describedBy = owner.firmware;
      try {
        if (owner.driver && !force) {
          entry.method = "kernel";
          entry.note = `claimed by ${owner.driver}: not scanned (--force to override); i2cdetect through /dev/i2c-* sees the bus`;
        } else entry.addresses = host.scan();
      } finally {
        if (!io.grants().all) io.release(controller.base, controller.size);
      }
    } catch (e) {
      entry.note = why(e);
      if (e instanceof ControllerError && e.code === "NOT_FOUND") entry.note = e.message;
    }
    return entry;
  });
}

/** The 8042: self-test and configuration byte when no driver holds 0x60/0x64 (or forced), else the kernel's view. */
export function surveyI8042(io: Ioperm, claims: readonly Claim[], force: boolean): I8042Entry {
  const { driver, firmware } = portOwner(claims, 0x60, 1);
  const entry: I8042Entry = {
    present: false,
    method: "probe",
    claimedBy: driver,
    describedBy: firmware,
    selfTest: null,
    config: null,
    note: null,
  };
  if (driver && !force) {
    const serio = existsSync("/sys/bus/serio/devices") ? readdirSync("/sys/bus/serio/devices") : [];
    return {
      ...entry,
      present: true,
      method: "kernel",
      note: `claimed by ${driver}: self-test not run (--force to override); the kernel's ports: ${serio.join(", ") || "none"}`,
    };
  }
  return withRange(io, 0x60, 1, () =>
    withRange(io, 0x64, 1, () => {
      try {
        const r = i8042SelfTest(io);
        return { ...entry, present: true, selfTest: r.selfTest, config: r.config };
      } catch (e) {
        return { ...entry, present: e instanceof ControllerError && e.code !== "NO_DEVICE", note: why(e) };
      }
    }),
  );
}
