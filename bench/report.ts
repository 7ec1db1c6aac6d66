/**
 * Renders a run: the terminal/markdown table and the SVG chart. Pure functions
 * of a RunResult, so the host can render what the lab VM measured.
 */
import { type CaseResult, PATHS, type RunResult } from "./model.ts";
import { hex } from "../lib/format.ts";

/** 1234.5 ns -> "1.23 µs": three significant digits, unit by magnitude. */
export function formatNs(ns: number): string {
  const units: [number, string][] = [
    [1e9, "s"],
    [1e6, "ms"],
    [1e3, "µs"],
    [1, "ns"],
  ];
  for (const [scale, unit] of units) {
    if (ns >= scale || unit === "ns") return `${(ns / scale).toPrecision(3)} ${unit}`;
  }
  return `${ns} ns`;
}

export function formatRate(perS: number): string {
  if (perS >= 1e9) return `${(perS / 1e9).toPrecision(3)} G`;
  if (perS >= 1e6) return `${(perS / 1e6).toPrecision(3)} M`;
  if (perS >= 1e3) return `${(perS / 1e3).toPrecision(3)} k`;
  return perS.toPrecision(3);
}

/** 0.947×, 14.2×, 632,000×: three significant digits, no exponent. */
export function formatRatio(r: number | null): string {
  if (r === null) return "–";
  return `${r >= 1000 ? Number(r.toPrecision(3)).toLocaleString("en-US") : r.toPrecision(3)}×`;
}

/** A GitHub-flavoured markdown table, aligned so it also reads in a terminal. */
export function table(cases: readonly CaseResult[]): string {
  const head = ["port", "access", "path", "ops/s", "p50", "p99", "× floor"];
  const rows = cases.map((c) => [
    hex(c.port),
    `${c.op} ${c.width}`,
    c.path,
    formatRate(c.ops_per_s),
    formatNs(c.p50_ns),
    formatNs(c.p99_ns),
    formatRatio(c.ratio_to_floor),
  ]);
  const right = [false, false, false, true, true, true, true];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (right[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(head), rule, ...rows.map(line)].join("\n");
}

/** One line per path used in `cases`: what it measures. */
export function legend(cases: readonly CaseResult[]): string {
  const used = [...new Set(cases.map((c) => c.path))];
  return used.map((p) => `- \`${p}\`: ${PATHS[p] ?? p}`).join("\n");
}

export function header(run: RunResult): string {
  const m = run.machine;
  const virt = m.virtualization === "none" ? "bare metal" : m.virtualization;
  return [
    `${run.kind === "lab" ? "Lab VM" : "Host"}: ${m.cpu} (${m.cores} cores), Linux ${m.kernel.split(" ")[0]}, ${virt}`,
    `Bun ${run.bun.version} (${run.bun.revision.slice(0, 8)}), ${run.harness.library}, ${run.date}${run.quick ? ", QUICK (not for publishing)" : ""}`,
  ].join("\n");
}

// --- SVG -------------------------------------------------------------------

export interface ChartGroup {
  title: string;
  cases: CaseResult[];
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Groups of the chart: each (port, width, op) listed in `keys`, its cases fastest first. */
export function chartGroups(
  cases: readonly CaseResult[],
  keys: readonly { port: number; width: number; op: string; title: string }[],
): ChartGroup[] {
  return keys
    .map((k) => ({
      title: k.title,
      cases: cases.filter((c) => c.port === k.port && c.width === k.width && c.op === k.op).sort((a, b) => a.p50_ns - b.p50_ns),
    }))
    .filter((g) => g.cases.length > 0);
}

/**
 * Horizontal bars, one per path, on a log-scale latency axis: the bar ends at
 * p50, a whisker runs to p99, and the label gives p50 and the ratio to the floor.
 */
export function svgChart(title: string, subtitle: string, groups: readonly ChartGroup[]): string {
  const all = groups.flatMap((g) => g.cases);
  const lo = Math.min(...all.map((c) => c.p50_ns));
  const hi = Math.max(...all.map((c) => c.p99_ns));
  const decadeLo = Math.floor(Math.log10(Math.max(lo, 1e-3)));
  const decadeHi = Math.ceil(Math.log10(Math.max(hi, lo * 10)));
  const labelW = 190;
  const plotW = 520;
  const valueW = 160;
  const barH = 16;
  const gap = 4;
  const groupHead = 26;
  const top = 58;
  const width = labelW + plotW + valueW + 20;
  const x = (ns: number) => labelW + ((Math.log10(Math.max(ns, 10 ** decadeLo)) - decadeLo) / (decadeHi - decadeLo)) * plotW;

  const out: string[] = [];
  let y = top;
  for (const g of groups) {
    y += groupHead;
    out.push(`<text x="10" y="${y - 8}" class="group">${esc(g.title)}</text>`);
    for (const c of g.cases) {
      const floor = c.path === c.floor;
      const x50 = x(c.p50_ns);
      const x99 = x(c.p99_ns);
      const mid = y + barH / 2;
      out.push(
        `<text x="${labelW - 8}" y="${mid + 4}" class="label" text-anchor="end">${esc(c.path)}</text>`,
        `<rect x="${labelW}" y="${y}" width="${Math.max(1, x50 - labelW).toFixed(1)}" height="${barH}" class="${floor ? "bar floor" : "bar"}"><title>${esc(`${c.name}: p50 ${formatNs(c.p50_ns)}, p99 ${formatNs(c.p99_ns)}, ${formatRate(c.ops_per_s)} ops/s — ${PATHS[c.path] ?? ""}`)}</title></rect>`,
        `<line x1="${x50.toFixed(1)}" y1="${mid}" x2="${x99.toFixed(1)}" y2="${mid}" class="whisker"/>`,
        `<line x1="${x99.toFixed(1)}" y1="${mid - 4}" x2="${x99.toFixed(1)}" y2="${mid + 4}" class="whisker"/>`,
        `<text x="${labelW + plotW + 70}" y="${mid + 4}" class="value" text-anchor="end">${esc(formatNs(c.p50_ns))}</text>`,
        `<text x="${labelW + plotW + valueW - 4}" y="${mid + 4}" class="value" text-anchor="end">${esc(formatRatio(c.ratio_to_floor))}</text>`,
      );
      y += barH + gap;
    }
  }
  const bottom = y + 8;
  const axis: string[] = [];
  for (let d = decadeLo; d <= decadeHi; d++) {
    const xd = x(10 ** d).toFixed(1);
    axis.push(
      `<line x1="${xd}" y1="${top}" x2="${xd}" y2="${bottom}" class="grid"/>`,
      `<text x="${xd}" y="${bottom + 16}" class="tick" text-anchor="middle">${esc(formatNs(10 ** d).replace(/\.00|\.0/, ""))}</text>`,
    );
  }
  const height = bottom + 44;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">
<style>
  .title { font-size: 15px; font-weight: 600; fill: #111; }
  .sub { font-size: 11px; fill: #555; }
  .group { font-size: 12px; font-weight: 600; fill: #222; }
  .label, .value { font-size: 11px; fill: #222; font-family: ui-monospace, Menlo, Consolas, monospace; }
  .tick { font-size: 10px; fill: #555; }
  .grid { stroke: #ddd; stroke-width: 1; }
  .bar { fill: #4a7fb5; }
  .bar.floor { fill: #2f9e61; }
  .whisker { stroke: #1d3557; stroke-width: 1.2; }
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" class="title">${esc(title)}</text>
<text x="10" y="40" class="sub">${esc(subtitle)}</text>
${axis.join("\n")}
${out.join("\n")}
<text x="${labelW + plotW / 2}" y="${bottom + 34}" class="tick" text-anchor="middle">latency per access (log scale): bar = p50, whisker = p99; green = the floor each ratio divides by</text>
</svg>
`;
}
