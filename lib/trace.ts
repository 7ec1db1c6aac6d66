/**
 * A port trace: every access a handle ran, with when, on which thread, and how
 * it ended. `open({ trace })` or IOPERM_TRACE=FILE turns it on. The handle then
 * calls the native exports through a traced copy of the symbol table, chosen
 * once at open(): a handle without a trace calls the exports directly and pays
 * nothing, not even a branch.
 *
 * The file format is JSON lines (docs/trace.md): a header line
 * `{"trace":"ioperm","version":1,…}`, then one line per access:
 *
 *   {"t":120034518,"thread":0,"op":"outb","port":888,"width":8,"dir":"w","value":65,"status":0}
 *
 * `t` is nanoseconds since the thread's time origin (performance.now(), a
 * monotonic clock): Bun's clocks count from each thread's own start. The
 * header carries that origin (performance.timeOrigin, ms since the epoch), so
 * parseTrace puts the records of every thread of the process on one time line. A refused access
 * has the negative status and its code (`"code":"NOT_GRANTED"`) and, for a
 * read, `"value":null`.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { threadId } from "node:worker_threads";
import { OP_KIND, OP_SIZE } from "./batch.ts";
import type { PortArray } from "./check.ts";
import type { native } from "./ffi.ts";
import { statusName } from "./status.ts";

type Native = ReturnType<typeof native>;

/** One access that ran (or was refused). */
export interface TraceRecord {
  /** Nanoseconds since this thread's time origin (performance.now(), monotonic); the header gives the origin. */
  t: number;
  /** The thread: node:worker_threads' threadId, 0 on the main thread. */
  thread: number;
  /** The call that made it: "inb", "outw", "insb" (one record per element), "batch" (one per op), … */
  op: string;
  port: number;
  width: 8 | 16 | 32;
  /** "r" for in, "w" for out. */
  dir: "r" | "w";
  /** What was written, or what was read; null for a refused read. */
  value: number | null;
  /** 0, or the native status that refused it (negative). */
  status: number;
  /** The refusal's code (IopermError.code), when status is not 0. */
  code?: string;
  /** Index of the op in its batch. */
  index?: number;
}

/** Where records go: a file path (JSON lines, appended) or your own sink. */
export interface TraceSink {
  record(r: TraceRecord): void;
  /** Called when the handle releases everything (close(), release()), so a file is complete then. */
  flush?(): void;
}

/** The first line of a trace file. */
export interface TraceHeader {
  trace: "ioperm";
  version: 1;
  pid: number;
  thread: number;
  /** performance.timeOrigin of the writing thread: ms since the epoch, to line threads up. */
  origin: number;
  clock: "ns since origin (performance.now)";
}

/** The op names a trace file's records can carry, by number in FileSink's columns. */
const opNames = [
  ...["in", "out", "ins", "outs"].flatMap((o) => ["b", "w", "l"].map((s) => `${o}${s}`)),
  "batch",
  "prepare",
  "prepared",
] as const;
const opNumber = new Map<string, number>(opNames.map((name, i) => [name, i]));

/** Records held before they are formatted and written. */
export const TRACE_BLOCK = 4096;

/**
 * A trace file: records go into typed-array columns (a few stores each, so
 * the traced access itself stays fast) and are formatted as JSON lines and
 * written a block at a time: when TRACE_BLOCK are held, at a full release
 * (close(), release()) and at exit.
 */
class FileSink implements TraceSink {
  #fd: number;
  #n = 0;
  readonly #t = new Float64Array(TRACE_BLOCK);
  readonly #thread = new Uint32Array(TRACE_BLOCK);
  readonly #op = new Uint8Array(TRACE_BLOCK);
  readonly #port = new Uint16Array(TRACE_BLOCK);
  readonly #width = new Uint8Array(TRACE_BLOCK);
  readonly #write = new Uint8Array(TRACE_BLOCK);
  /** NaN for a refused read's null. */
  readonly #value = new Float64Array(TRACE_BLOCK);
  readonly #status = new Int32Array(TRACE_BLOCK);
  /** -1: not in a batch or string. */
  readonly #index = new Int32Array(TRACE_BLOCK);
  constructor(path: string) {
    this.#fd = openSync(path, "a");
    const header: TraceHeader = {
      trace: "ioperm",
      version: 1,
      pid: process.pid,
      thread: threadId,
      origin: performance.timeOrigin,
      clock: "ns since origin (performance.now)",
    };
    writeSync(this.#fd, `${JSON.stringify(header)}\n`);
    process.on("exit", () => this.close());
  }
  record(r: TraceRecord): void {
    this.add(r.t, r.thread, opNumber.get(r.op) ?? 0, r.port, r.width, r.dir === "w", r.value, r.status, r.index ?? -1);
  }
  /** record() without the object: what a traced handle calls. */
  add(
    t: number,
    thread: number,
    op: number,
    port: number,
    width: number,
    write: boolean,
    value: number | null,
    status: number,
    index: number,
  ): void {
    const k = this.#n;
    this.#t[k] = t;
    this.#thread[k] = thread;
    this.#op[k] = op;
    this.#port[k] = port;
    this.#width[k] = width;
    this.#write[k] = write ? 1 : 0;
    this.#value[k] = value === null ? Number.NaN : value;
    this.#status[k] = status;
    this.#index[k] = index;
    this.#n = k + 1;
    if (this.#n === TRACE_BLOCK) this.flush();
  }
  flush(): void {
    if (this.#n === 0 || this.#fd < 0) return;
    const lines: string[] = new Array(this.#n);
    for (let k = 0; k < this.#n; k++) {
      const value = this.#value[k] ?? Number.NaN;
      const status = this.#status[k] ?? 0;
      const index = this.#index[k] ?? -1;
      const code = status < 0 ? `,"code":"${statusName(status)}"` : "";
      const at = index >= 0 ? `,"index":${index}` : "";
      lines[k] =
        `{"t":${this.#t[k]},"thread":${this.#thread[k]},"op":"${opNames[this.#op[k] ?? 0]}","port":${this.#port[k]},` +
        `"width":${this.#width[k]},"dir":"${this.#write[k] === 1 ? "w" : "r"}","value":${Number.isNaN(value) ? "null" : value},"status":${status}${code}${at}}\n`;
    }
    this.#n = 0;
    writeSync(this.#fd, lines.join(""));
  }
  close(): void {
    this.flush();
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** A record as its JSON line; keys in a fixed order, so files diff cleanly. */
export function formatRecord(r: TraceRecord): string {
  const code = r.status < 0 ? `,"code":"${r.code ?? statusName(r.status)}"` : "";
  const index = r.index === undefined ? "" : `,"index":${r.index}`;
  return `{"t":${r.t},"thread":${r.thread},"op":"${r.op}","port":${r.port},"width":${r.width},"dir":"${r.dir}","value":${r.value},"status":${r.status}${code}${index}}\n`;
}

/** One sink per file path in this thread: two handles tracing to one file share its buffer. */
const files = new Map<string, FileSink>();

/** The sink a trace option names, or null for none (IOPERM_TRACE when the option is not given). */
export function traceSink(option: string | TraceSink | undefined, env = process.env): TraceSink | null {
  const { IOPERM_TRACE: fromEnv } = env;
  const given = option ?? (fromEnv || undefined);
  if (given === undefined) return null;
  if (typeof given !== "string") {
    if (typeof given?.record !== "function") throw new TypeError("open(): trace must be a file path or a sink with record(r)");
    return given;
  }
  if (given === "") throw new TypeError("open(): trace is an empty path; give a file to append the trace to");
  let sink = files.get(given);
  if (sink === undefined) {
    sink = new FileSink(given);
    files.set(given, sink);
  }
  return sink;
}

const widthOf = { b: 8, w: 16, l: 32 } as const;

/** The kind byte of an encoded slot (OP_KIND; wait and pulse take a parameter slot after their head). */
const slotKind = OP_KIND;

/**
 * The symbol table a traced handle calls: each access export records what ran
 * after the native call returns, then hands back its result unchanged.
 */
export function tracedSymbols(n: Native, sink: TraceSink): Native {
  const now = () => Math.round(performance.now() * 1e6);
  /** `earlier`: ns to stamp the record before now (a pulse's first write). */
  type Rec = (
    op: string,
    port: number,
    width: 8 | 16 | 32,
    dir: "r" | "w",
    value: number | null,
    status: number,
    index?: number,
    earlier?: number,
  ) => void;
  /** The recorder of one op name, made once: a file sink takes the fields as they are, another sink a TraceRecord. */
  const recorder = (op: string): Rec => {
    if (sink instanceof FileSink) {
      const num = opNumber.get(op) ?? 0;
      return (_, port, width, dir, value, status, index, earlier = 0) =>
        sink.add(now() - earlier, threadId, num, port, width, dir === "w", value, status, index ?? -1);
    }
    return (_, port, width, dir, value, status, index, earlier = 0) => {
      const r: TraceRecord = { t: now() - earlier, thread: threadId, op, port, width, dir, value, status };
      if (status < 0) r.code = statusName(status);
      if (index !== undefined) r.index = index;
      sink.record(r);
    };
  };
  const t: Record<string, unknown> = { ...n };
  for (const s of ["b", "w", "l"] as const) {
    const width = widthOf[s];
    const [recIn, recOut, recIns, recOuts] = ["in", "out", "ins", "outs"].map((o) => recorder(`${o}${s}`)) as [Rec, Rec, Rec, Rec];
    const inFn = n[`ioperm_in${s}`] as (port: number) => number;
    t[`ioperm_in${s}`] = (port: number) => {
      const v = Number(inFn(port));
      // A negative return is the status; a value read is status 0.
      recIn("", port, width, "r", v < 0 ? null : v, Math.min(v, 0));
      return v;
    };
    const outFn = n[`ioperm_out${s}`] as (port: number, value: number) => number;
    t[`ioperm_out${s}`] = (port: number, value: number) => {
      const st = outFn(port, value);
      recOut("", port, width, "w", value, st);
      return st;
    };
    const ins = n[`ioperm_ins${s}`] as (port: number, buf: PortArray, count: number) => number;
    t[`ioperm_ins${s}`] = (port: number, buf: PortArray, count: number) => {
      const st = ins(port, buf, count);
      if (st < 0) recIns("", port, width, "r", null, st);
      else for (let i = 0; i < count; i++) recIns("", port, width, "r", buf[i] ?? 0, 0, i);
      return st;
    };
    const outs = n[`ioperm_outs${s}`] as (port: number, buf: PortArray, count: number) => number;
    t[`ioperm_outs${s}`] = (port: number, buf: PortArray, count: number) => {
      const st = outs(port, buf, count);
      // Refused, none ran: one line, with the first element.
      if (st < 0) recOuts("", port, width, "w", buf[0] ?? 0, st);
      else for (let i = 0; i < count; i++) recOuts("", port, width, "w", buf[i] ?? 0, 0, i);
      return st;
    };
  }
  /** Each op of an encoded list, with `values[i]` as its value (reads: what was read); a refusal names only the op refused. */
  const listRecorders = new Map(["batch", "prepare", "prepared"].map((op) => [op, recorder(op)]));
  /**
   * Each step of an encoded list that ran, with `values[slot]` as a read's
   * value. A refusal before anything ran names only the refused step; a wait
   * that timed out (TIMEOUT) stops the list, so the steps before it ran.
   * `index` is the step, as the caller's list counts them.
   */
  const recordOps = (op: string, buf: Uint8Array, values: ArrayLike<number>, status: number, failed: number) => {
    const rec = listRecorders.get(op) as Rec;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const partial = status < 0 && (statusName(status) as string) === "TIMEOUT";
    for (let slot = 0, step = 0; slot < buf.length / OP_SIZE; slot++, step++) {
      const at = slot * OP_SIZE;
      const kind = view.getUint8(at + 3);
      const ran = status >= 0 || (partial && slot < failed);
      const here = status < 0 && slot === failed;
      const port = view.getUint16(at, true);
      const width = (view.getUint8(at + 2) * 8) as 8 | 16 | 32;
      const own = view.getUint32(at + 4, true);
      const code = here ? status : 0;
      if (ran || here) {
        if (kind === slotKind.read) rec(op, port, width, "r", ran ? (values[slot] ?? 0) : null, code, step);
        else if (kind === slotKind.write) rec(op, port, width, "w", own, code, step);
        else if (kind === slotKind.wait) rec(op, port, width, "r", null, code, step);
        else if (kind === slotKind.pulse) {
          // Both writes happened; the first at least widthUs (the parameter slot's second word) before the second.
          const rest = view.getUint32(at + OP_SIZE, true);
          const widthUs = view.getUint32(at + OP_SIZE + 4, true);
          rec(op, port, width, "w", own, code, step, widthUs * 1000);
          if (ran) rec(op, port, width, "w", rest, 0, step);
        }
      }
      if (kind === slotKind.wait || kind === slotKind.pulse) slot++; // its parameter slot
    }
  };

  const valuesOf = (buf: Uint8Array) => {
    const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    return { length: words.length / 2, get: (i: number) => words[i * 2 + 1] ?? 0 };
  };
  t["ioperm_batch"] = (buf: Uint8Array, count: number, done: Uint32Array) => {
    const st = n.ioperm_batch(buf, count, done);
    const v = valuesOf(buf);
    recordOps(
      "batch",
      buf,
      Array.from({ length: v.length }, (_, i) => v.get(i)),
      st,
      done[0] ?? 0,
    );
    return st;
  };
  // A prepared list's ops are kept by handle, as encoded, to name each op of a run.
  const prepared = new Map<number, Uint8Array>();
  t["ioperm_prepare"] = (buf: Uint8Array, count: number, done: Uint32Array) => {
    const handle = n.ioperm_prepare(buf, count, done);
    if (Number(handle) >= 0) prepared.set(Number(handle), buf.slice());
    else recordOps("prepare", buf, [], Number(handle), done[0] ?? 0);
    return handle;
  };
  t["ioperm_prepared_run"] = (handle: number, done: Uint32Array, values: Uint32Array) => {
    const st = n.ioperm_prepared_run(handle, done, values);
    const buf = prepared.get(Number(handle));
    if (buf !== undefined) recordOps("prepared", buf, values, st, done[0] ?? 0);
    return st;
  };
  t["ioperm_prepared_free"] = (handle: number) => {
    prepared.delete(Number(handle));
    return n.ioperm_prepared_free(handle);
  };
  t["ioperm_release"] = (from: number, count: number) => {
    if (count === 0) sink.flush?.();
    return n.ioperm_release(from, count);
  };
  return t as unknown as Native;
}

/** The symbols a handle calls: `n` itself without a trace, else a traced copy. */
export function withTrace(n: Native, option: string | TraceSink | undefined): Native {
  const sink = traceSink(option);
  return sink === null ? n : tracedSymbols(n, sink);
}
