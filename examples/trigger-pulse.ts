// An event trigger on the parallel port's data lines, as EEG and psychology
// rigs use them: the code goes high for WIDTH microseconds, then back to 0.
// Each edge is strobed too, so a logging device (or the lab's host file) sees
// the code, then 0. The width is timed with Bun.nanoseconds() and reported.
//   bun examples/trigger-pulse.ts [CODE] [WIDTH_US] [BASE]    (default 42, 1000 µs, 0x378)
import { open } from "ioperm";

const code = Number(process.argv[2] ?? 42);
const widthUs = Number(process.argv[3] ?? 1000);
const base = Number(process.argv[4] ?? 0x378);
using io = open();
io.grant(base, 3);
const strobe = () => {
  io.outb(base + 2, 0x0d);
  io.outb(base + 2, 0x0c);
};
io.outb(base + 2, 0x0c);
const t0 = Bun.nanoseconds();
io.outb(base, code); // the edge the recording aligns to
strobe();
while (Bun.nanoseconds() - t0 < widthUs * 1000); // busy-wait: a sleep would overshoot by a timer tick
io.outb(base, 0);
const measured = (Bun.nanoseconds() - t0) / 1000;
strobe();
console.log(JSON.stringify({ code, requestedUs: widthUs, measuredUs: Math.round(measured) }));
