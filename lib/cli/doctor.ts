/**
 * `ioperm doctor [--json]`: what this system allows, what refuses port I/O
 * and what to run about it. The same checks as a refused grant's error
 * (lib/diagnose.ts), plus a real attempt with each backend.
 * Exit: 0 when some backend grants ports, 1 when none does, 64 usage.
 */
import { existsSync, readdirSync } from "node:fs";
import { causes, canOpen, readFacts } from "../diagnose.ts";
import { IopermError } from "../errors.ts";
import { type BackendName, open } from "../index.ts";
import { commandFor, machineProblem } from "../where.ts";
import type { Command } from "./command.ts";

interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

/** A real grant of port 0x80 (the POST port: harmless to hold) through one backend, released at once. */
function tryBackend(backend: BackendName): { ok: boolean; code: string | null; errno: number | null } {
  try {
    using io = open({ backend });
    io.grant(0x80, 1);
    return { ok: true, code: null, errno: null };
  } catch (e) {
    if (!(e instanceof IopermError)) throw e;
    return { ok: false, code: e.code, errno: e.errno ?? null };
  }
}

/** Runs every check and a real grant through each backend; what `ioperm doctor --json` prints. */
export function doctor() {
  const facts = readFacts();
  const direct = tryBackend("direct");
  const devport = tryBackend("devport");
  const parports = existsSync("/dev")
    ? readdirSync("/dev")
        .filter((d) => /^parport\d+$/.test(d))
        .map((d) => `/dev/${d}`)
    : [];
  const found = causes(facts, { osError: direct.errno ?? 0, devportErrno: devport.errno ?? 0, lastPort: 0x80 });
  const checks: Check[] = [
    { check: "kernel", ok: process.arch === "x64", detail: `Linux ${facts.kernel.join(".")} on ${process.arch}` },
    { check: "ioperm/iopl (direct)", ok: direct.ok, detail: direct.ok ? "grants ports" : `refused: ${direct.code}` },
    { check: "/dev/port (devport)", ok: devport.ok, detail: devport.ok ? "opens" : facts.devPort ? `refused: ${devport.code}` : "missing" },
    { check: "user", ok: facts.uid === 0, detail: facts.uid === 0 ? "root" : `uid ${facts.uid}` },
    {
      check: "CAP_SYS_RAWIO",
      ok: facts.rawio,
      detail: facts.rawio
        ? "effective"
        : facts.rawioBounding
          ? "not effective (in the bounding set)"
          : "not effective, not in the bounding set",
    },
    {
      check: "seccomp",
      ok: facts.seccomp !== 2,
      detail: ["none", "strict mode", "a filter is installed"][facts.seccomp] ?? String(facts.seccomp),
    },
    {
      check: "lockdown",
      ok: facts.lockdown === null || facts.lockdown === "none",
      detail: facts.lockdown ?? "not visible (securityfs not mounted, or no lockdown LSM)",
    },
    {
      check: "parallel ports (ppdev)",
      ok: parports.some(canOpen),
      detail:
        parports.length === 0
          ? "no /dev/parportN (modprobe ppdev)"
          : parports.map((p) => `${p} ${canOpen(p) ? "usable" : "not open to you (join group lp)"}`).join(", "),
    },
  ];
  return { ok: direct.ok || devport.ok, facts, backends: { direct, devport }, checks, causes: found };
}

/** `ioperm doctor`. */
export const command: Command = {
  summary: "what this system allows, what refuses port I/O, and what to run about it (--json)",
  async run(args) {
    const unknown = args.filter((a) => a !== "--json");
    if (unknown.length > 0 || process.platform !== "linux") {
      console.error(
        process.platform !== "linux"
          ? `ioperm doctor: Linux only (on Windows: ${commandFor("driver status")})`
          : "usage: ioperm doctor [--json]",
      );
      return 64;
    }
    const report = doctor();
    if (args.includes("--json")) {
      console.log(JSON.stringify(report, null, 2));
      return report.ok ? 0 : 1;
    }
    const width = Math.max(...report.checks.map((c) => c.check.length));
    const lines = report.checks.map((c) => `  ${c.ok ? "ok " : "-- "} ${c.check.padEnd(width)}  ${c.detail}`);
    lines.unshift(`ioperm doctor: port I/O is ${report.ok ? "available" : "refused"} here`, "");
    // No kernel setting explains a CPU without in/out: say that first, with the lab.
    const machine = machineProblem(process.platform, process.arch);
    if (machine) lines.push("", `Why: ${machine}`);
    if (report.causes.length > 0) {
      lines.push("", "What refuses it, and what to do:");
      for (const c of report.causes) lines.push(`  - ${c.what}`, `    ${c.remedy}`);
    }
    console.log(lines.join("\n"));
    return report.ok ? 0 : 1;
  },
};
