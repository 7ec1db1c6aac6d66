// Timed batch steps (wait, delay, pulse; issue #19) on the Linux backend,
// against QEMU's UART and parallel port. Witnesses: the host COM2 and LPT1
// files QEMU writes, Debian's `inb` in another process, and QEMU's own trace of
// every parallel-port register write with the host's timestamp of it.
// @lab-qemu-trace parallel_ioport_write
import { afterAll, expect, test } from "bun:test";
import { uartOpen } from "../../lib/devices/index.ts";
import { IopermError, open, ops } from "../../lib/index.ts";
import { eventually, hostFile, parallelTraceWrites } from "./witness.ts";

const COM2 = 0x2f8;
const LSR = COM2 + 5;
const LPT1 = 0x378;
const CONTROL = LPT1 + 2;
/** Control register: SELECT and INIT held, STROBE (bit 0) as given. QEMU sends the data byte to its file on a rising STROBE. */
const STROBE_ON = 0x0d;
const STROBE_OFF = 0x0c;

const io = open({ backend: "direct" });
io.grant(COM2, 8);
io.grant(LPT1, 3);
afterAll(() => io.close());

/** Debian's `inb PORT` (ioport), run as a separate process: its own ioperm, its own read. */
function inbElsewhere(port: number): number {
  const r = Bun.spawnSync(["inb", `0x${port.toString(16)}`], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`inb 0x${port.toString(16)} failed: ${r.stderr}`);
  return Number(r.stdout.toString().trim());
}

/** The steps that send one byte through LPT1 to its host file: data, then a strobe pulse. */
const lptByte = (b: number) => [ops.outb(LPT1, b), ops.pulse(CONTROL, STROBE_ON, 5, STROBE_OFF)];

test("a UART transmit handshake as one batch: wait for THR empty before each byte (witness: the host COM2 file)", async () => {
  uartOpen(io, COM2);
  const text = `handshake ${process.pid}\n`;
  const steps = [...text].flatMap((c) => [ops.wait(LSR, 0x20, 0x20, 50_000), ops.outb(COM2, c.charCodeAt(0))]);
  const before = hostFile("com2").length;
  io.batch(steps);
  const file = await eventually(
    () => hostFile("com2"),
    (f) => f.length >= before + text.length,
  );
  expect(file.subarray(before).toString()).toBe(text);
});

test("a prepared handshake runs twice: its waits keep their mask, expect and timeout (witness: the host COM2 file)", async () => {
  uartOpen(io, COM2);
  const prepared = io.prepare([
    ops.wait(LSR, 0x20, 0x20, 50_000),
    ops.outb(COM2, 0x41),
    ops.delay(10),
    ops.wait(LSR, 0x20, 0x20, 50_000),
    ops.inb(LSR),
  ]);
  const before = hostFile("com2").length;
  const first = [...prepared.run()];
  const second = [...prepared.run()];
  // One value per step: the waits and the delay give 0, the write its value, the read LSR with THRE set.
  for (const values of [first, second]) {
    expect(values.slice(0, 4)).toEqual([0, 0x41, 0, 0]);
    expect((values[4] ?? 0) & 0x20).toBe(0x20);
  }
  const file = await eventually(
    () => hostFile("com2"),
    (f) => f.length >= before + 2,
  );
  expect(file.subarray(before).toString()).toBe("AA");
});

test("a wait that cannot match times out: TIMEOUT names it and its last value; the steps before ran, none after (witnesses: Debian's inb, the host LPT1 file)", async () => {
  uartOpen(io, COM2);
  // Nothing ever arrives on COM2's line (its chardev is a file), so LSR's data-ready bit stays 0.
  io.outb(CONTROL, STROBE_OFF);
  const before = hostFile("lpt1").length;
  let err: unknown;
  try {
    io.batch([...lptByte(0x31), ops.wait(LSR, 0x01, 0x01, 2000), ...lptByte(0x32)]);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(IopermError);
  const e = err as IopermError;
  const lsr = inbElsewhere(LSR);
  expect(lsr & 0x01).toBe(0);
  expect({ code: e.code, index: e.index, port: e.port, value: e.value }).toEqual({ code: "TIMEOUT", index: 2, port: LSR, value: lsr });
  expect(e.message).toContain(`0x${lsr.toString(16).toUpperCase()}`);
  // The byte before the wait reached the file; the one after it was never written.
  await eventually(
    () => hostFile("lpt1"),
    (f) => f.length >= before + 1,
  );
  await Bun.sleep(200);
  expect([...hostFile("lpt1").subarray(before)]).toEqual([0x31]);
});

test("pulses on the strobe line send each byte once, in order: a pulse writes its value, then its rest (witness: the host LPT1 file)", async () => {
  io.outb(CONTROL, STROBE_OFF);
  const bytes = [0x48, 0x53, 0x48, 0x53, 0x0a];
  const before = hostFile("lpt1").length;
  // A strobe is sent only on a rising edge: without each pulse's rest write, only the first byte would arrive.
  io.batch(bytes.flatMap(lptByte));
  const file = await eventually(
    () => hostFile("lpt1"),
    (f) => f.length >= before + bytes.length,
  );
  expect([...file.subarray(before)]).toEqual(bytes);
});

test("pulse widths on LPT1's data lines are never shorter than asked (witness: QEMU's trace of each write, with the host's clock)", () => {
  const widths = [100, 1000];
  const marks = widths.map((_, i) => 0xe0 + i);
  // Each pulse's value is a mark of its own, so its two writes are found in the trace by value.
  io.batch(widths.flatMap((w, i) => [ops.pulse(LPT1, marks[i] ?? 0, w, 0x00), ops.delay(200)]));
  const writes = parallelTraceWrites(0);
  const measured = widths.map((w, i) => {
    const at = writes.findLastIndex((x) => x.value === marks[i]);
    const rest = writes[at + 1];
    expect({ w, found: at >= 0, rest: rest?.value }).toEqual({ w, found: true, rest: 0 });
    return { asked: w, held: (rest?.us ?? 0) - (writes[at]?.us ?? 0) };
  });
  console.log(`pulse widths asked/held on the host's clock (µs): ${measured.map((m) => `${m.asked}/${m.held}`).join(", ")}`);
  for (const m of measured) expect(m.held).toBeGreaterThanOrEqual(m.asked);
});
