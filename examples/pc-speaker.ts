// A tone on the PC speaker: PIT channel 2 as a square-wave generator (mode 3,
// divisor 1193182 / Hz), gated onto the speaker through port 0x61 bits 0 and 1.
//   bun examples/pc-speaker.ts [HZ] [MS]     (default 440 Hz for 500 ms)
import { open } from "ioperm";

const hz = Number(process.argv[2] ?? 440);
const ms = Number(process.argv[3] ?? 500);
const PIT_HZ = 1_193_182;
using io = open();
io.grant(0x42, 2); // PIT channel 2 data (0x42) and the mode/command register (0x43)
io.grant(0x61, 1); // system control port B: speaker gate and data
const divisor = Math.round(PIT_HZ / hz);
io.outb(0x43, 0xb6); // channel 2, lobyte/hibyte, mode 3 (square wave), binary
io.outb(0x42, divisor & 0xff);
io.outb(0x42, divisor >> 8);
const gate = io.inb(0x61);
io.outb(0x61, gate | 0x03); // gate the PIT to the speaker, and enable it
await Bun.sleep(ms);
io.outb(0x61, gate & ~0x03);
console.log(JSON.stringify({ hz, divisor, actualHz: PIT_HZ / divisor, ms }));
