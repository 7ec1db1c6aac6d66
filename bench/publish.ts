/** Writes a RunResult as JSON and an SVG chart, and prints its table. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { RunResult } from "./model.ts";
import { say } from "./options.ts";
import { formatErrorUs } from "./pulse.ts";
import { chartGroups, header, legend, svgChart, table } from "./report.ts";
import { packageRoot as root } from "../lib/paths.ts";

/** Which (port, width, op) groups the lab chart shows: every path on the commonest accesses. */
const LAB_CHART = [
  { port: 0x80, width: 8, op: "read", title: "POST port 0x80, 8-bit read" },
  { port: 0x80, width: 8, op: "write", title: "POST port 0x80, 8-bit write" },
  { port: 0x378, width: 8, op: "read", title: "LPT1 data 0x378, 8-bit read" },
  { port: 0xcfc, width: 32, op: "read", title: "PCI config data 0xCFC, 32-bit read" },
];

export function publish(run: RunResult, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, `${run.kind}.json`);
  const svg = join(outDir, `${run.kind}.svg`);
  // One case per line, four significant digits: small files, small diffs when re-committed.
  const round = (v: number) => (Number.isInteger(v) ? v : Number(v.toPrecision(4)));
  const cases = run.cases.map((c) =>
    Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === "number" ? round(v) : Array.isArray(v) ? v.map(round) : v])),
  );
  const { cases: _, ...rest } = run;
  const body = JSON.stringify({ ...rest, cases: [] }, null, 2).replace(
    '"cases": []',
    `"cases": [\n${cases.map((c) => `    ${JSON.stringify(c)}`).join(",\n")}\n  ]`,
  );
  writeFileSync(json, `${body}\n`);
  const groups =
    run.kind === "host"
      ? [
          {
            title: "Port 0x80, 8-bit write, no instruction (the host cannot grant ports)",
            cases: [...run.cases].sort((a, b) => a.p50_ns - b.p50_ns),
          },
        ]
      : chartGroups(run.cases, LAB_CHART);
  const title = run.kind === "host" ? "ioperm call path on the host" : "ioperm: latency per port access, every path (lab VM)";
  const m = run.machine;
  const subtitle = `${m.cpu}, ${m.virtualization === "none" ? "bare metal" : m.virtualization}, Bun ${run.bun.version}, ${run.date.slice(0, 10)} — ${run.command}`;
  writeFileSync(svg, svgChart(title, subtitle, groups));
  print(run);
  const shown = (p: string) => (p.startsWith(root) ? relative(root, p) : p);
  say(`\nwrote ${shown(json)} and ${shown(svg)}`);
}

function print(run: RunResult): void {
  const lines = [header(run), "", table(run.cases), "", legend(run.cases)];
  for (const c of run.cases) {
    if (c.native_calls_per_call !== undefined) lines.push(`${c.name}: ${c.native_calls_per_call} native calls per transaction (counted)`);
  }
  if (run.pulses !== undefined && run.pulses.length > 0) {
    lines.push("", "Pulse width on LPT1, error = held - asked on QEMU's host clock:");
    for (const p of run.pulses) {
      lines.push(
        `- ${p.name.padEnd(20)} ${p.found}/${p.sent} pulses  p50 ${formatErrorUs(p.err_p50_us)}  p99 ${formatErrorUs(p.err_p99_us)}  ` +
          `min ${formatErrorUs(p.err_min_us)}  max ${formatErrorUs(p.err_max_us)}`,
      );
    }
  }
  if (run.skipped.length > 0) lines.push("", "Skipped:", ...run.skipped.map((s) => `- ${s.name}: ${s.reason}`));
  lines.push("", ...run.notes.map((n) => `Note: ${n}`));
  if (run.kind === "host") {
    const get = (p: string) => run.cases.find((c) => c.path === p);
    const ts = get("ts-api");
    const bare = get("ffi-nop");
    if (ts && bare) lines.push("", `TS API / bare FFI (p50): ${(ts.p50_ns / bare.p50_ns).toFixed(2)}× (goal ≤ 1.2×)`);
  }
  process.stdout.write(`\n${lines.join("\n")}\n`);
}
