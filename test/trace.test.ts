// The port trace's pure logic: the record a traced handle writes (host: every
// real access is refused here, the empty export stands in for a granted one),
// the file format, the LPT pin levels and the VCD writer.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { native } from "../lib/ffi.ts";
import { Ioperm, ops } from "../lib/index.ts";
import { packageRoot as root } from "../lib/paths.ts";
import { lptPins, parseTrace, toVcd } from "../lib/trace-export.ts";
import { formatRecord, type TraceRecord, withTrace } from "../lib/trace.ts";

const dir = mkdtempSync(join(tmpdir(), "ioperm-trace-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const n = native();

test("without a trace a handle calls the native exports themselves: no wrapper, nothing per call", () => {
  const saved = process.env.IOPERM_TRACE;
  delete process.env.IOPERM_TRACE;
  try {
    expect(withTrace(n, undefined)).toBe(n);
  } finally {
    if (saved !== undefined) process.env.IOPERM_TRACE = saved;
  }
});

test("a traced handle records what ran, after the call: a write that ran, a refused read with its code, a refused batch naming its op", () => {
  const records: TraceRecord[] = [];
  const io = new Ioperm({ trace: { record: (r) => records.push(r) } }, { ...n, ioperm_outb: n.ioperm_nop });
  io.outb(0x378, 0xac);
  expect(() => io.inb(0x379)).toThrow(expect.objectContaining({ code: "NOT_GRANTED" }));
  expect(() => io.batch([ops.outb(0x80, 1), ops.inw(0x70)])).toThrow(expect.objectContaining({ code: "NOT_GRANTED" }));
  io.close();
  const [write, read, batch] = records;
  expect(records.length).toBe(3);
  expect(write).toMatchObject({ op: "outb", port: 0x378, width: 8, dir: "w", value: 0xac, status: 0 });
  expect(write?.code).toBeUndefined();
  expect(read).toMatchObject({ op: "inb", port: 0x379, width: 8, dir: "r", value: null, code: "NOT_GRANTED" });
  expect(read?.status).toBeLessThan(0);
  // The whole list is checked first, so nothing ran; the refused op is the first one.
  expect(batch).toMatchObject({ op: "batch", port: 0x80, width: 8, dir: "w", value: 1, code: "NOT_GRANTED", index: 0 });
  expect(write?.thread).toBe(0);
  expect((read?.t ?? 0) >= (write?.t ?? 0)).toBe(true);
});

test("string I/O records each element that ran, and a refused one once, with its code", () => {
  const records: TraceRecord[] = [];
  const io = new Ioperm({ trace: { record: (r) => records.push(r) } }, { ...n, ioperm_outsb: (() => 0) as never });
  io.writeFrom(0xe9, new Uint8Array([1, 2, 3]));
  expect(() => io.readInto(0x60, new Uint16Array(4))).toThrow(expect.objectContaining({ code: "NOT_GRANTED" }));
  io.close();
  expect(records).toMatchObject([
    { op: "outsb", port: 0xe9, dir: "w", value: 1, status: 0, index: 0 },
    { op: "outsb", value: 2, index: 1 },
    { op: "outsb", value: 3, index: 2 },
    { op: "insw", port: 0x60, width: 16, dir: "r", value: null, code: "NOT_GRANTED" },
  ]);
  expect(records.length).toBe(4);
});

test("a prepared batch records each op of every run, its index, a write's own value and what a read returned", () => {
  const records: TraceRecord[] = [];
  // The empty run leaves the values array as it was: the read's 0 here.
  const io = new Ioperm({ trace: { record: (r) => records.push(r) } }, { ...n, ioperm_prepared_run: n.ioperm_nop_prepared_run });
  const batch = io.prepare([ops.outb(0x80, 5), ops.inw(0x70)]);
  batch.run();
  batch.run();
  io.close();
  const one = [
    { op: "prepared", port: 0x80, width: 8, dir: "w", value: 5, status: 0, index: 0 },
    { op: "prepared", port: 0x70, width: 16, dir: "r", value: 0, status: 0, index: 1 },
  ];
  expect(records).toMatchObject([...one, ...one]);
});

test("a trace file: a header line, then one JSON line per access, appended; parseTrace reads it back in time order", () => {
  const file = join(dir, "a.trace");
  const io = new Ioperm({ trace: file }, { ...n, ioperm_outb: n.ioperm_nop });
  io.outb(0x80, 0x12);
  io.outb(0x80, 0x34);
  io.close(); // a full release flushes
  const lines = readFileSync(file, "utf8").trim().split("\n");
  expect(JSON.parse(lines[0] ?? "")).toMatchObject({ trace: "ioperm", version: 1, pid: process.pid, thread: 0 });
  expect(lines.slice(1).map((l) => JSON.parse(l).value)).toEqual([0x12, 0x34]);
  const r: TraceRecord = { t: 5, thread: 1, op: "inb", port: 0x379, width: 8, dir: "r", value: null, status: -5001, code: "NOT_GRANTED" };
  expect(formatRecord(r)).toBe(
    '{"t":5,"thread":1,"op":"inb","port":889,"width":8,"dir":"r","value":null,"status":-5001,"code":"NOT_GRANTED"}\n',
  );
  expect(parseTrace(readFileSync(file, "utf8")).map((x) => x.value)).toEqual([0x12, 0x34]);
});

test("IOPERM_TRACE names the file when open() is given no trace; a bad trace option is a TypeError", () => {
  const file = join(dir, "env.trace");
  const saved = process.env.IOPERM_TRACE;
  process.env.IOPERM_TRACE = file;
  try {
    const io = new Ioperm({}, { ...n, ioperm_outb: n.ioperm_nop });
    io.outb(0x80, 7);
    io.close();
  } finally {
    if (saved === undefined) delete process.env.IOPERM_TRACE;
    else process.env.IOPERM_TRACE = saved;
  }
  expect(parseTrace(readFileSync(file, "utf8")).map((x) => [x.port, x.value])).toEqual([[0x80, 7]]);
  expect(() => new Ioperm({ trace: "" })).toThrow(TypeError);
  expect(() => new Ioperm({ trace: {} as never })).toThrow(TypeError);
});

test("parseTrace refuses what is not a trace, naming the line", () => {
  expect(() => parseTrace("hello\n")).toThrow("line 1: not JSON");
  expect(() => parseTrace('{"t":1,"port":1,"width":8,"dir":"r","value":1,"status":0}\n')).toThrow("no ioperm trace header");
  const header = '{"trace":"ioperm","version":1,"pid":1,"thread":0,"origin":1}\n';
  expect(() => parseTrace(`${header}{"t":1,"port":1,"width":12}\n`)).toThrow("line 2: a record needs");
  expect(() => parseTrace(`${header}{"t":1,"thread":3,"port":1,"width":8,"dir":"r","value":1,"status":0}\n`)).toThrow(
    "line 2: a record of thread 3 before that thread's header",
  );
});

const pin = (name: string) => lptPins.find((p) => p.name === name)?.level ?? (() => -1);

test("LPT pins are connector levels: STROBE, AUTOFEED and SELECTIN inverted from their control bits, INIT not; BUSY inverted in status", () => {
  // 0x0c: idle (INIT and SELECTIN bits set); 0x0d adds the STROBE bit: the pin goes low.
  expect([0x0c, 0x0d].map(pin("STROBE"))).toEqual([1, 0]);
  expect([0x0c, 0x0e].map(pin("AUTOFEED"))).toEqual([1, 0]);
  expect([0x00, 0x04].map(pin("INIT"))).toEqual([0, 1]);
  expect([0x00, 0x08].map(pin("SELECTIN"))).toEqual([1, 0]);
  // Status bit 7 clear: BUSY high. Bits 6, 5, 4, 3 are ACK, PAPEROUT, SELECT, ERROR as on the pins.
  expect([0x00, 0x80].map(pin("BUSY"))).toEqual([1, 0]);
  expect([0x00, 0x40].map(pin("ACK"))).toEqual([0, 1]);
  expect([0x00, 0x20].map(pin("PAPEROUT"))).toEqual([0, 1]);
  expect([0x00, 0x10].map(pin("SELECT"))).toEqual([0, 1]);
  expect([0x00, 0x08].map(pin("ERROR"))).toEqual([0, 1]);
  expect([0xa5].map(pin("D0"))).toEqual([1]);
  expect([0xa5].map(pin("D1"))).toEqual([0]);
  expect([0xa5].map(pin("D7"))).toEqual([1]);
});

const rec = (t: number, port: number, dir: "r" | "w", value: number | null, status = 0): TraceRecord => ({
  t,
  thread: 0,
  op: dir === "w" ? "outb" : "inb",
  port,
  width: 8,
  dir,
  value,
  status,
});

test("toVcd: one bus per port, a wire per LPT pin, time from the first access, changes only, refused accesses left out", () => {
  const records = [
    rec(1000, 0x37a, "w", 0x0c),
    rec(1500, 0x378, "w", 0x41),
    rec(1700, 0x37a, "w", 0x0d),
    rec(1800, 0x37a, "w", 0x0d),
    rec(1900, 0x80, "r", null, -5001),
  ];
  const vcd = toVcd(records);
  expect(vcd).toContain("$timescale 1ns $end");
  expect(vcd).toContain("$var wire 8 ! port_0378 [7:0] $end");
  expect(vcd).toContain('$var wire 8 " port_037a [7:0] $end');
  expect(vcd).not.toContain("port_0080");
  expect(vcd).toContain("$var wire 1 # D0 $end");
  expect(vcd).toContain("$var wire 1 + STROBE $end");
  const body = vcd.slice(vcd.indexOf("$enddefinitions"));
  expect(body).toContain('#0\n$dumpvars\nbx !\nbx "\nx#');
  // At 0: control 0x0c (STROBE high); at 500 ns: data 0x41 (D0 and D6 high); at 700 ns STROBE falls; the repeat at 800 is no change.
  expect(body).toContain('$end\nb1100 "\n1+\n');
  expect(body).toContain("#500\nb1000001 !\n1#\n0$");
  expect(body).toContain('#700\nb1101 "\n0+\n');
  expect(body).not.toContain("#800");
  const wires = toVcd(records, { wires: true });
  expect(wires).not.toContain("port_0378");
  expect(wires).not.toMatch(/^b/m);
});

test("ioperm trace export: usage errors exit 64, a file that is not a trace exits 1 with the line", () => {
  const cli = (args: string[]) =>
    Bun.spawnSync([process.execPath, "lib/cli.ts", "trace", ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  expect(cli(["export", "x.trace"]).exitCode).toBe(64);
  expect(cli(["export", "x.trace", "--vcd", "--svg"]).exitCode).toBe(64);
  expect(cli(["export", "x.trace", "--svg", "--wires"]).exitCode).toBe(64);
  const bad = join(dir, "bad.trace");
  writeFileSync(bad, "not a trace\n");
  const r = cli(["export", bad, "--vcd"]);
  expect(r.exitCode).toBe(1);
  expect(r.stderr.toString()).toContain("line 1: not JSON");
});

test("a Worker's accesses carry its threadId in the same file, and the export puts them between the main thread's before and after", async () => {
  const file = join(dir, "worker.trace");
  const main = new Ioperm({ trace: file }, { ...n, ioperm_outb: n.ioperm_nop });
  main.outb(0x80, 0x01);
  const worker = new Worker(join(import.meta.dir, "fixtures", "trace-worker.ts"), { workerData: file } as WorkerOptions);
  const id = (worker as unknown as { threadId: number }).threadId;
  await new Promise<void>((resolve, reject) => {
    worker.addEventListener("message", () => resolve());
    worker.addEventListener("error", (e) => reject(e));
  });
  worker.terminate();
  main.outb(0x80, 0x02);
  main.close();
  const text = readFileSync(file, "utf8");
  const headers = text
    .split("\n")
    .filter((l) => l.includes('"trace"'))
    .map((l) => JSON.parse(l));
  expect(id).toBeGreaterThan(0);
  expect(headers.map((h) => h.thread).sort()).toEqual([0, id]);
  // The worker's t counts from its own start, so only the origins in the headers order the three.
  expect(parseTrace(text).map((r) => [r.thread, r.value])).toEqual([
    [0, 0x01],
    [id, 0x77],
    [0, 0x02],
  ]);
  expect(() => parseTrace(`${text}${JSON.stringify({ ...headers[0], pid: 1 })}\n`)).toThrow("a second process (pid 1");
});

test("the handshake steps' slots (wait, delay, pulse; kinds 2-4, with parameter slots) are decoded step by step", () => {
  // A list as lib/batch.ts encodes it with the handshake steps: outb 0x378=0x41,
  // pulse 0x37a 0x0d then 0x0c held 5 µs, delay 10 µs, wait on 0x379, inb 0x379.
  const slots: [number, number, number, number][] = [
    [0x378, 1, 1, 0x41],
    [0x37a, 1, 4, 0x0d],
    [0, 0, 0, 0], // the pulse's parameters: rest 0x0c, 5 µs (written below)
    [0, 0, 3, 10],
    [0x379, 1, 2, 1000],
    [0, 0, 0, 0], // the wait's mask and expect
    [0x379, 1, 0, 0],
  ];
  const buf = new Uint8Array(slots.length * 8);
  const view = new DataView(buf.buffer);
  slots.forEach(([port, bytes, kind, value], i) => {
    view.setUint16(i * 8, port, true);
    view.setUint8(i * 8 + 2, bytes);
    view.setUint8(i * 8 + 3, kind);
    view.setUint32(i * 8 + 4, value, true);
  });
  view.setUint32(2 * 8, 0x0c, true);
  view.setUint32(2 * 8 + 4, 5, true);
  const run = (status: number, failed: number) => {
    const records: TraceRecord[] = [];
    const fake = {
      ...n,
      ioperm_batch: ((b: Uint8Array, _c: number, done: Uint32Array) => {
        new DataView(b.buffer).setUint32(6 * 8 + 4, 0x90, true); // what the inb read
        done[0] = failed;
        return status;
      }) as never,
    };
    const t = withTrace(fake, { record: (r) => records.push(r) });
    t.ioperm_batch(buf, slots.length, new Uint32Array(1));
    return records;
  };
  const all = run(0, 0);
  expect(all.map((r) => [r.index, r.port, r.dir, r.value])).toEqual([
    [0, 0x378, "w", 0x41],
    [1, 0x37a, "w", 0x0d],
    [1, 0x37a, "w", 0x0c],
    [3, 0x379, "r", null],
    [4, 0x379, "r", 0x90],
  ]);
  // The pulse's first write is stamped at least its 5 µs before the second.
  expect((all[2]?.t ?? 0) - (all[1]?.t ?? 0)).toBeGreaterThanOrEqual(5000);
  // Refused before anything ran (NOT_GRANTED at the wait): only the wait is named.
  expect(run(-5001, 4).map((r) => [r.index, r.code])).toEqual([[3, "NOT_GRANTED"]]);
});
