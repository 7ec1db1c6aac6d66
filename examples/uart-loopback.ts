// A 16550 UART in loopback mode: what it transmits comes straight back to its
// receiver and never reaches the line. Useful to check a port before wiring it.
//   bun examples/uart-loopback.ts [BASE] [TEXT] [--no-loopback]   (default 0x2f8 "ping")
import { open } from "ioperm";
import { uartOpen, uartRead, uartWrite } from "ioperm/devices";

const args = process.argv.slice(2).filter((a) => a !== "--no-loopback");
const loopback = !process.argv.includes("--no-loopback");
const base = Number(args[0] ?? 0x2f8);
const text = args[1] ?? "ping";
using io = open();
io.grant(base, 8);
uartOpen(io, base, { baud: 115200, loopback });
uartWrite(io, base, text);
const echoed = new TextDecoder().decode(uartRead(io, base, 256, 200));
uartOpen(io, base, { baud: 115200 }); // leave it out of loopback
console.log(JSON.stringify({ loopback, sent: text, echoed }));
