// Shared by the probe's lab tests: run probe.ts as a user would, and read
// registers from a second process as the witness.
import { expect } from "bun:test";
import { schemaErrors, validateProbe } from "../schema.ts";

export interface ProbeJson {
  lpt: { base: number; present: boolean; method: string; claimedBy: string | null; kernel: { name: string; modes: string[] } | null; probe: unknown }[];
  uart: { base: number; present: boolean; method: string; type: string | null; kernel: { type: string } | null; claimedBy: string | null }[];
  rtc: { time: string; claimedBy: string | null };
  pci: { functions: { bdf: string; vendor: number; deviceId: number }[] };
  fwcfg: { present: boolean };
  machine: { hypervisor: string | null };
  host: { backend: string };
}

export function probe(...args: string[]): ProbeJson {
  const r = Bun.spawnSync([process.execPath, "probe.ts", "--json", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`probe exited ${r.exitCode}: ${r.stderr.toString()}`);
  const doc = JSON.parse(r.stdout.toString());
  expect(validateProbe(doc) ? "" : schemaErrors()).toBe("");
  return doc as ProbeJson;
}

export function readRegs(...specs: string[]): Record<string, number> {
  const r = Bun.spawnSync([process.execPath, "test/fixtures/read-regs.ts", ...specs], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`read-regs failed: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString()) as Record<string, number>;
}

export const h4 = (n: number) => n.toString(16).padStart(4, "0");
