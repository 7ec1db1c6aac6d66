// Bit-banging a parallel port: put each byte on the data lines, then pulse
// STROBE (control bit 0) so the device latches it, waiting out BUSY first.
//   bun examples/lpt-strobe.ts [BASE] [TEXT]      (default 0x378 "hello\n")
import { open } from "ioperm";

const base = Number(process.argv[2] ?? 0x378);
const text = process.argv[3] ?? "hello\n";
using io = open();
io.grant(base, 3); // data, status, control
const data = io.port8(base, "w");
const status = io.port8(base + 1, "r");
const control = io.port8(base + 2);
control.write(0x0c); // SELECT-IN and INIT high, STROBE low: idle
for (const byte of new TextEncoder().encode(text)) {
  for (let spin = 0; (status.read() & 0x80) === 0 && spin < 100_000; spin++); // BUSY is inverted: bit 7 set = ready
  data.write(byte);
  control.write(0x0d); // STROBE high…
  control.write(0x0c); // …and low again: the byte is latched
}
console.log(`sent ${text.length} bytes to ${base.toString(16)}`);
