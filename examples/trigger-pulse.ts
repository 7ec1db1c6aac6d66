// An event trigger on the parallel port's data lines, as EEG and psychology
// rigs use them: the code goes high for WIDTH microseconds, then back to 0.
// Each edge is strobed too, so a logging device (or the lab's host file) sees
// the code, then 0. The whole trigger is one batch, run in one native call: the
// width is held by a busy-wait on the monotonic clock inside the library
// (ops.delay), so no scheduler tick or JavaScript lands inside it, and it is
// never shorter than asked.
//   bun examples/trigger-pulse.ts [CODE] [WIDTH_US] [BASE]    (default 42, 1000 µs, 0x378)
import { open, ops } from "ioperm";

const code = Number(process.argv[2] ?? 42);
const widthUs = Number(process.argv[3] ?? 1000);
const base = Number(process.argv[4] ?? 0x378);
using io = open();
io.grant(base, 3);
const strobe = [ops.outb(base + 2, 0x0d), ops.outb(base + 2, 0x0c)];
io.batch([
  ops.outb(base + 2, 0x0c),
  ops.outb(base, code), // the edge the recording aligns to
  ...strobe,
  ops.delay(widthUs),
  ops.outb(base, 0),
  ...strobe,
]);
console.log(JSON.stringify({ code, requestedUs: widthUs }));
