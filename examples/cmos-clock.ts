// The CMOS real-time clock at 0x70/0x71: read the date and time the way
// `hwclock --directisa` does (index/data reads, waiting out update-in-progress).
//   bun examples/cmos-clock.ts
import { open } from "ioperm";
import { readRtc } from "ioperm/devices";

using io = open();
io.grant(0x70, 2);
const rtc = readRtc(io);
console.log(JSON.stringify({ time: rtc.date.toISOString(), bcd: rtc.bcd, hour24: rtc.hour24 }));
