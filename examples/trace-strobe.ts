// Strobes bytes out of a parallel port with a port trace on, for a logic
// analyzer's view of what ran: export it with `ioperm trace export`.
//   bun examples/trace-strobe.ts [TRACE] [BASE] [TEXT]   (default strobe.trace 0x378 "ioperm")
//   ioperm trace export strobe.trace --vcd -o strobe.vcd
import { rmSync } from "node:fs";
import { open } from "ioperm";

const file = process.argv[2] ?? "strobe.trace";
const base = Number(process.argv[3] ?? 0x378);
const text = process.argv[4] ?? "ioperm";
rmSync(file, { force: true }); // a trace file is appended to: start afresh
{
  using io = open({ trace: file });
  io.grant(base, 3); // data, status, control
  io.outb(base + 2, 0x0c); // SELECT-IN and INIT high, STROBE high (control bit 0 clear): idle
  for (const byte of new TextEncoder().encode(text)) {
    for (let spin = 0; (io.inb(base + 1) & 0x80) === 0 && spin < 100_000; spin++); // wait while BUSY
    io.outb(base, byte);
    io.outb(base + 2, 0x0d); // STROBE low (bit 0 set: the pin is inverted)…
    io.outb(base + 2, 0x0c); // …and high again: the device latches the byte
  }
} // close() flushes the trace
console.log(`sent ${text.length} bytes to 0x${base.toString(16)}, trace in ${file}`);
