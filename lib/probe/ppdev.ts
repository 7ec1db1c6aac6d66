/**
 * The probe's fallback for a process without port access (an ordinary user in
 * group lp): the parallel ports the kernel's ppdev offers, surveyed through
 * /dev/parportN. Data-register readback and status go through the kernel's
 * parport driver; the modes are the kernel's (ppdev cannot flip the direction bit).
 */
import { probeLpt } from "../devices/index.ts";
import { IopermError, open } from "../index.ts";
import { dmi, hostFacts, kernelParports, parportDevices } from "./machine.ts";
import { type LptEntry, type Report, SCHEMA_ID } from "./report.ts";

/** Whether this user may open a /dev/parportN, so that the fallback has something to survey. */
export const ppdevUsable = (): boolean => parportDevices().some((d) => d.usable);

/** The parallel ports behind every /dev/parportN with a kernel parport entry; a device that refuses adds a note. */
export function surveyPpdev(notes: string[]): LptEntry[] {
  const kernel = kernelParports();
  const out: LptEntry[] = [];
  for (const { device } of parportDevices()) {
    const k = kernel.find((p) => p.name === device.slice("/dev/".length)) ?? null;
    if (!k) continue;
    try {
      using io = open({ backend: "ppdev", device });
      io.grant(k.base, 3);
      const probe = { ...probeLpt(io, k.base), modes: null };
      out.push({ base: k.base, present: probe.present, method: "ppdev", claimedBy: null, probe, kernel: k, note: `through ${device}` });
    } catch (e) {
      if (!(e instanceof IopermError)) throw e;
      notes.push(`${device}: ${e.message}`);
    }
  }
  return out;
}

/**
 * The report of a ppdev-only survey: the host, the machine, the parallel ports
 * and the devices. `refused` is why port access was refused (the message of the error).
 */
export function ppdevReport(refused: string): Report {
  const notes = [`no port access (${refused.split(":")[0]}); parallel ports surveyed through ppdev`];
  const lpt = surveyPpdev(notes);
  const d = dmi();
  return {
    schema: SCHEMA_ID,
    host: hostFacts("ppdev", "ranges"),
    machine: { hypervisor: /QEMU/i.test(d.sys_vendor ?? "") ? "QEMU" : null, dmi: d },
    lpt,
    parports: parportDevices(),
    notes,
  };
}
