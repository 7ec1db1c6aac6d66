/**
 * Reading a port trace (lib/trace.ts) and turning it into what the
 * logic-analyzer world opens: a Value Change Dump (GTKWave, PulseView, sigrok's
 * decoders) and an SVG timing diagram. Pure functions of the trace's text.
 */
import { decodeControl, decodeStatus, LPT_BASES } from "./devices/lpt.ts";
import type { TraceRecord } from "./trace.ts";
import { hexDigits } from "./format.ts";

/** A trace file that is not one: the line and what is wrong with it. */
export class TraceFormatError extends Error {}

/**
 * The records of a trace file (JSON lines), every header line checked and
 * dropped, in time order. Each thread's `t` counts from its own origin (its
 * header's); here they are put on one time line, from the earliest origin,
 * to within the origins' precision (under a microsecond).
 */
export function parseTrace(text: string): TraceRecord[] {
  const records: TraceRecord[] = [];
  let headers = 0;
  /** The origin of each thread's header, and the pid that wrote it. */
  const origins = new Map<number, { origin: number; pid: unknown }>();
  const recordOrigin: number[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let r: Partial<
      Record<"trace" | "version" | "origin" | "thread" | "pid" | "t" | "dir" | "port" | "status" | "value" | "width", unknown>
    >;
    try {
      r = JSON.parse(line);
    } catch {
      throw new TraceFormatError(`line ${i + 1}: not JSON; a trace file has one JSON object per line (open({ trace }) writes one)`);
    }
    if (r.trace !== undefined) {
      if (r.trace !== "ioperm" || r.version !== 1 || typeof r.origin !== "number" || typeof r.thread !== "number")
        throw new TraceFormatError(`line ${i + 1}: a header of another format (${line.slice(0, 60)}); this reads ioperm trace version 1`);
      const seen = origins.get(r.thread);
      if (seen !== undefined && seen.pid !== r.pid)
        throw new TraceFormatError(
          `line ${i + 1}: a second process (pid ${String(r.pid)}, after ${String(seen.pid)}) wrote to this trace; delete the file before each run, or give each process its own`,
        );
      origins.set(r.thread, { origin: r.origin, pid: r.pid });
      headers++;
      return;
    }
    const ok =
      typeof r.t === "number" &&
      typeof r.port === "number" &&
      (r.width === 8 || r.width === 16 || r.width === 32) &&
      (r.dir === "r" || r.dir === "w") &&
      (r.value === null || typeof r.value === "number") &&
      typeof r.status === "number";
    if (!ok) throw new TraceFormatError(`line ${i + 1}: a record needs t, port, width (8, 16 or 32), dir ("r" or "w"), value and status`);
    const origin = origins.get(r.thread as number)?.origin;
    if (headers === 0) throw new TraceFormatError("no ioperm trace header line: is this a trace from open({ trace })?");
    if (origin === undefined)
      throw new TraceFormatError(`line ${i + 1}: a record of thread ${String(r.thread)} before that thread's header line`);
    records.push(r as unknown as TraceRecord);
    recordOrigin.push(origin);
  });
  const first = Math.min(...origins.values().map((o) => o.origin));
  records.forEach((r, k) => {
    r.t += Math.round(((recordOrigin[k] ?? first) - first) * 1e6);
  });
  // Stable: records of one thread keep their order when two share a timestamp.
  return records.sort((a, b) => a.t - b.t);
}

/** A connector pin of a parallel port, and its logic level given the register's value. */
export interface LptPin {
  name: string;
  /** Register offset from the base: 0 data, 1 status, 2 control. */
  offset: 0 | 1 | 2;
  level: (value: number) => 0 | 1;
}

const bit = (b: boolean): 0 | 1 => (b ? 1 : 0);

/**
 * The named pins of a parallel port, levels as on the connector. STROBE,
 * AUTOFEED and SELECTIN are active low and their control bits inverted, so a
 * set bit is a low pin; INIT is active low and not inverted. In the status
 * register BUSY is inverted (bit 7 clear = BUSY high) and ACK and ERROR are
 * active low. lib/devices/lpt.ts decodes the bits into asserted lines.
 */
export const lptPins: readonly LptPin[] = [
  ...Array.from({ length: 8 }, (_, i): LptPin => ({ name: `D${i}`, offset: 0, level: (v) => bit(((v >> i) & 1) === 1) })),
  { name: "STROBE", offset: 2, level: (v) => bit(!decodeControl(v).strobe) },
  { name: "AUTOFEED", offset: 2, level: (v) => bit(!decodeControl(v).autoFeed) },
  { name: "INIT", offset: 2, level: (v) => bit(!decodeControl(v).initialize) },
  { name: "SELECTIN", offset: 2, level: (v) => bit(!decodeControl(v).selectIn) },
  { name: "ACK", offset: 1, level: (v) => bit(!decodeStatus(v).ack) },
  { name: "BUSY", offset: 1, level: (v) => bit(decodeStatus(v).busy) },
  { name: "PAPEROUT", offset: 1, level: (v) => bit(decodeStatus(v).paperOut) },
  { name: "SELECT", offset: 1, level: (v) => bit(decodeStatus(v).select) },
  { name: "ERROR", offset: 1, level: (v) => bit(!decodeStatus(v).error) },
];

/** The LPT base a port belongs to (data, status or control), or undefined. */
export function lptBaseOf(port: number): number | undefined {
  return LPT_BASES.find((b) => port >= b && port <= b + 2);
}

/** One VCD signal: a port's bus, or one pin wire. */
interface Signal {
  id: string;
  scope: string;
  name: string;
  width: number;
  /** Value as VCD writes it: "b0101…" for a bus, "0"/"1" for a wire. */
  last: string;
}

/** VCD identifier codes: printable ASCII from "!" on, several characters once those run out. */
function idCode(n: number): string {
  let s = "";
  let k = n;
  do {
    s += String.fromCharCode(33 + (k % 94));
    k = Math.floor(k / 94) - 1;
  } while (k >= 0);
  return s;
}

const hex4 = (port: number) => hexDigits(port, 4);

/** The LPT bases a trace touched through 8-bit accesses that ran. */
function lptBases(records: TraceRecord[]): number[] {
  const bases = new Set<number>();
  for (const r of records) {
    const b = lptBaseOf(r.port);
    if (b !== undefined && r.width === 8 && r.status === 0) bases.add(b);
  }
  return [...bases].sort((a, b) => a - b);
}

/** The value changes a trace makes, per signal, in time order: what VCD and SVG both draw. */
export function signalsOf(records: TraceRecord[]) {
  const ran = records.filter((r) => r.status === 0 && r.value !== null);
  const widths = new Map<number, number>();
  for (const r of ran) widths.set(r.port, Math.max(widths.get(r.port) ?? 0, r.width));
  const signals: Signal[] = [];
  const byPort = new Map<number, Signal>();
  for (const port of [...widths.keys()].sort((a, b) => a - b)) {
    const s = { id: idCode(signals.length), scope: "ports", name: `port_${hex4(port)}`, width: widths.get(port) ?? 8, last: "" };
    signals.push(s);
    byPort.set(port, s);
  }
  const pins = new Map<number, { pin: LptPin; signal: Signal }[]>();
  const bases = lptBases(ran);
  for (const base of bases) {
    for (const pin of lptPins) {
      const signal = {
        id: idCode(signals.length),
        scope: bases.length === 1 ? "lpt" : `lpt_${hex4(base)}`,
        name: pin.name,
        width: 1,
        last: "",
      };
      signals.push(signal);
      pins.set(base + pin.offset, [...(pins.get(base + pin.offset) ?? []), { pin, signal }]);
    }
  }
  const t0 = ran[0]?.t ?? 0;
  const changes: { t: number; signal: Signal; value: string }[] = [];
  for (const r of ran) {
    const v = r.value ?? 0;
    const port = byPort.get(r.port);
    if (port !== undefined) changes.push({ t: r.t - t0, signal: port, value: `b${v.toString(2)}` });
    if (r.width !== 8) continue;
    for (const { pin, signal } of pins.get(r.port) ?? []) changes.push({ t: r.t - t0, signal, value: String(pin.level(v)) });
  }
  return { signals, changes, t0 };
}

/**
 * A Value Change Dump of a trace: one bus per port that an access ran on
 * (its widest access), and for each LPT base touched (0x378, 0x278, 0x3BC)
 * one wire per pin (lptPins). Time 0 is the first access that ran; 1 ns units.
 * Unknown until first seen: `x`. With `wires`, the buses are left out: libsigrok
 * 0.5's VCD input (sigrok-cli, PulseView) stops at the first bus value.
 */
export function toVcd(records: TraceRecord[], opts: { wires?: boolean } = {}): string {
  const all = signalsOf(records);
  const signals = opts.wires ? all.signals.filter((s) => s.width === 1) : all.signals;
  const changes = opts.wires ? all.changes.filter((c) => c.signal.width === 1) : all.changes;
  const out = ["$comment ioperm trace export: one bus per port, one wire per LPT pin (connector levels) $end", "$timescale 1ns $end"];
  const scopes = [...new Set(signals.map((s) => s.scope))];
  for (const scope of scopes) {
    out.push(`$scope module ${scope} $end`);
    for (const s of signals.filter((x) => x.scope === scope)) {
      out.push(`$var wire ${s.width} ${s.id} ${s.name}${s.width > 1 ? ` [${s.width - 1}:0]` : ""} $end`);
    }
    out.push("$upscope $end");
  }
  out.push("$enddefinitions $end", "#0", "$dumpvars");
  for (const s of signals) out.push(s.width > 1 ? `bx ${s.id}` : `x${s.id}`);
  out.push("$end");
  let now = 0;
  for (const c of changes) {
    if (c.signal.last === c.value) continue;
    c.signal.last = c.value;
    if (c.t !== now) {
      out.push(`#${c.t}`);
      now = c.t;
    }
    out.push(c.signal.width > 1 ? `${c.value} ${c.signal.id}` : `${c.value}${c.signal.id}`);
  }
  return `${out.join("\n")}\n`;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * An SVG timing diagram of a trace's LPT pins (the first base touched): one row
 * per pin that changed or was seen, plus the data byte at each change, time
 * to scale. `title` goes above it.
 */
export function toSvg(records: TraceRecord[], title = "ioperm port trace"): string {
  const { signals, changes } = signalsOf(records);
  const pinSignals = signals.filter((s) => s.width === 1);
  const scope = pinSignals[0]?.scope;
  const rows = pinSignals.filter((s) => s.scope === scope && changes.some((c) => c.signal === s));
  const dataPort = signals.find(
    (s) =>
      s.width > 1 && scope !== undefined && changes.some((c) => c.signal === s) && s.name === `port_${hex4(lptBases(records)[0] ?? 0)}`,
  );
  // Long idle stretches (a first call's JIT warm-up, a wait) are drawn shortened,
  // at most `cap`, so the strobes are not squeezed into a corner; a mark shows each cut.
  const times = [...new Set(changes.map((c) => c.t))].sort((a, b) => a - b);
  const gaps = times.slice(1).map((t, k) => t - (times[k] ?? 0));
  const cap = 4 * ([...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)] ?? 1);
  const shown = new Map<number, number>();
  const cuts: number[] = [];
  times.forEach((t, k) => {
    const gap = gaps[k - 1] ?? 0;
    if (gap > cap) cuts.push(t);
    shown.set(t, (shown.get(times[k - 1] ?? 0) ?? 0) + Math.min(gap, cap));
  });
  const last = times[times.length - 1] ?? 0;
  const span = Math.max(1, (shown.get(last) ?? 0) + cap);
  const end = last + cap;
  const [left, right, rowH, top] = [90, 20, 26, 46];
  const width = 960;
  const x = (t: number) => left + ((t === end ? span : (shown.get(t) ?? 0)) / span) * (width - left - right);
  const height = top + (rows.length + (dataPort ? 1 : 0)) * rowH + 34;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14">${esc(title)}</text>`,
  ];
  const rowOf = (i: number) => top + i * rowH;
  const drawRow = (i: number, label: string) =>
    parts.push(`<text x="${left - 8}" y="${rowOf(i) + rowH / 2 + 4}" text-anchor="end">${esc(label)}</text>`);
  let i = 0;
  if (dataPort) {
    drawRow(i, "data");
    const points = changes.filter(
      (c, k, a) => c.signal === dataPort && a.findLast((p, j) => j < k && p.signal === dataPort)?.value !== c.value,
    );
    points.forEach((c, k) => {
      const x0 = x(c.t);
      const x1 = x(points[k + 1]?.t ?? end);
      const y = rowOf(i);
      parts.push(
        `<path d="M${x0} ${y + 13} L${x0 + 3} ${y + 4} L${x1} ${y + 4} M${x0 + 3} ${y + 22} L${x1} ${y + 22} M${x0} ${y + 13} L${x0 + 3} ${y + 22}" stroke="#1f5fa8" fill="none"/>`,
      );
      const v = Number.parseInt(c.value.slice(1), 2);
      if (x1 - x0 > 18) parts.push(`<text x="${x0 + 5}" y="${y + 17}" fill="#1f5fa8">${hexDigits(v, 2)}</text>`);
    });
    i++;
  }
  for (const s of rows) {
    drawRow(i, s.name);
    const y = rowOf(i);
    const level = (v: string) => (v === "1" ? y + 4 : y + 22);
    let d = "";
    let last: string | undefined;
    for (const c of changes.filter((c) => c.signal === s)) {
      if (last === undefined) d += `M${x(c.t)} ${level(c.value)}`;
      else if (c.value !== last) d += ` L${x(c.t)} ${level(last)} L${x(c.t)} ${level(c.value)}`;
      last = c.value;
    }
    if (last !== undefined) d += ` L${x(end)} ${level(last)}`;
    parts.push(`<path d="${d}" stroke="#222" fill="none"/>`);
    i++;
  }
  const axisY = rowOf(i) + 14;
  const us = (ns: number) => `${(ns / 1000).toFixed(ns < 10_000 ? 1 : 0)} µs`;
  parts.push(`<line x1="${left}" y1="${axisY}" x2="${width - right}" y2="${axisY}" stroke="#888"/>`);
  for (const t of cuts) parts.push(`<text x="${x(t) - 4}" y="${axisY + 4}" text-anchor="middle" fill="#c00">//</text>`);
  parts.push(
    `<text x="${left}" y="${axisY + 16}" fill="#555">${esc(`time to scale (${us(last)} in all), but each gap over ${us(cap)} is cut to that (//)`)}</text>`,
  );
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
