// Pulse-width figures from QEMU's trace (bench/pulse.ts): pure logic on a
// synthetic trace log written the way QEMU writes one (-msg timestamp=on).
import { expect, test } from "bun:test";
import { formatErrorUs, parseParallelWrites, percentile, pulseResult, pulseWidths } from "../bench/pulse.ts";

const line = (sec: number, us: number, addr: number, value: number, reg = "DATA") =>
  `4242@${sec}.${String(us).padStart(6, "0")}:parallel_ioport_write write [${reg}] addr 0x${addr.toString(16).padStart(2, "0")} val 0x${value.toString(16).padStart(2, "0")}`;

test("parseParallelWrites reads host time, register and value, and skips other lines", () => {
  const log = [
    "qemu-system-x86_64: some message",
    line(1700000000, 5, 0, 0xa1),
    "4242@1700000000.000007:parallel_ioport_read read [STS] addr 0x01 val 0xdf",
    line(1700000000, 999_999, 2, 0x0d, "CONTROL"),
  ].join("\n");
  expect(parseParallelWrites(log)).toEqual([
    { us: 1700000000 * 1e6 + 5, addr: 0, value: 0xa1 },
    { us: 1700000000 * 1e6 + 999_999, addr: 2, value: 0x0d },
  ]);
});

test("pulseWidths: from a mark's data write to the next data write, only when that one is the rest value", () => {
  const writes = parseParallelWrites(
    [
      line(10, 0, 0, 0xa1),
      line(10, 50, 2, 0x0d, "CONTROL"), // another register in between does not end the pulse
      line(10, 103, 0, 0x00), // 103 µs
      line(10, 200, 0, 0xa1),
      line(10, 250, 0, 0x55), // not the rest value: not a pulse of this series
      line(10, 300, 0, 0xa1),
      line(11, 99, 0, 0x00), // across a second boundary: 999,799 µs
      line(11, 200, 0, 0xb1),
      line(11, 300, 0, 0x00),
      line(12, 0, 0, 0xa1), // never ended: not counted
    ].join("\n"),
  );
  expect(pulseWidths(writes, 0xa1)).toEqual([103, 999_799]);
  expect(pulseWidths(writes, 0xb1)).toEqual([100]);
});

test("percentile is nearest-rank over unsorted values", () => {
  const v = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1
  expect(percentile(v, 0.5)).toBe(50);
  expect(percentile(v, 0.99)).toBe(99);
  expect(percentile(v, 1)).toBe(100);
  expect(percentile([7], 0.99)).toBe(7);
  expect(percentile([], 0.5)).toBeNaN();
});

test("pulseResult: error = held - asked, with the count found against the count sent", () => {
  const widths = [100, 101, 102, 103, 150];
  let t = 0;
  const log = widths.flatMap((w) => {
    const at = t;
    t += 1000;
    return [line(20, at, 0, 0xa1), line(20, at + w, 0, 0x00)];
  });
  const r = pulseResult(
    { name: "pulse-native 100us", path: "pulse-native", askedUs: 100, mark: 0xa1, count: 6 },
    parseParallelWrites(log.join("\n")),
  );
  expect(r).toEqual({
    name: "pulse-native 100us",
    path: "pulse-native",
    asked_us: 100,
    sent: 6,
    found: 5,
    err_p50_us: 2,
    err_p99_us: 50,
    err_min_us: 0,
    err_max_us: 50,
  });
});

test("formatErrorUs is signed, three significant digits", () => {
  expect(formatErrorUs(12)).toBe("+12.0 µs");
  expect(formatErrorUs(-3)).toBe("-3.00 µs");
  expect(formatErrorUs(1234)).toBe("+1,230 µs");
  expect(formatErrorUs(Number.NaN)).toBe("–");
});
