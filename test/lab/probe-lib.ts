// Shared by the probe's lab tests: run probe.ts as a user would, and read
// registers from a second process as the witness.
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { schemaErrors, validateProbe } from "../schema.ts";

export interface ProbeJson {
  lpt: {
    base: number;
    present: boolean;
    method: string;
    claimedBy: string | null;
    kernel: { name: string; modes: string[] } | null;
    probe: unknown;
  }[];
  uart: {
    base: number;
    present: boolean;
    method: string;
    type: string | null;
    kernel: { type: string } | null;
    claimedBy: string | null;
  }[];
  rtc: { time: string; claimedBy: string | null };
  pci: { functions: { bdf: string; vendor: number; deviceId: number }[] };
  fwcfg: { present: boolean };
  machine: { hypervisor: string | null };
  host: { backend: string; grant: "ranges" | "iopl" };
}

export function probe(...args: string[]): ProbeJson {
  const r = Bun.spawnSync([process.execPath, "probe.ts", "--json", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`probe exited ${r.exitCode}: ${r.stderr.toString()}`);
  const doc = JSON.parse(r.stdout.toString());
  expect(validateProbe(doc) ? "" : schemaErrors()).toBe("");
  return doc as ProbeJson;
}

/** The ioperm(2)/iopl(2)/open(2) calls probe.ts makes, seen by strace (not by the library): [name, args]. */
export function tracedProbe(...args: string[]): { calls: { name: string; args: string[] }[]; doc: ProbeJson } {
  const log = `/tmp/probe-strace-${process.pid}-${Date.now()}.log`;
  const r = Bun.spawnSync(
    ["strace", "-f", "-qq", "-e", "trace=ioperm,iopl,open,openat", "-o", log, process.execPath, "probe.ts", "--json", ...args],
    {
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  if (r.exitCode !== 0) throw new Error(`probe under strace exited ${r.exitCode}: ${r.stderr}`);
  const calls = readFileSync(log, "utf8")
    .split("\n")
    .map((l: string) => /^(?:\d+\s+)?(ioperm|iopl|open|openat)\((.*)\)\s*=/.exec(l))
    .filter((m: RegExpExecArray | null): m is RegExpExecArray => m !== null)
    .map((m: RegExpExecArray) => ({ name: m[1] ?? "", args: (m[2] ?? "").split(/,\s*/) }));
  return { calls, doc: JSON.parse(r.stdout.toString()) as ProbeJson };
}

export function readRegs(...specs: string[]): Record<string, number> {
  const r = Bun.spawnSync([process.execPath, "test/fixtures/read-regs.ts", ...specs], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`read-regs failed: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString()) as Record<string, number>;
}

export const h4 = (n: number) => n.toString(16).padStart(4, "0");
