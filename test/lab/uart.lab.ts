// The UART helpers on COM2 (0x2F8), a 16550A the guest kernel registered but has not opened.
import { afterAll, expect, test } from "bun:test";
import { uartOpen, uartRead, uartReadSettings, uartWrite } from "../../lib/devices/index.ts";
import { open } from "../../lib/index.ts";
import { eventually, hostFile } from "./witness.ts";

const io = open({ backend: "direct" });
io.grant(0x2f8, 8);
afterAll(() => io.close());

test("uartOpen programs the divisor latch and line format the way it says (witness: the UART reads them back)", () => {
  // Read back with raw inb by the 16550's register map, not through the library's own offsets.
  const raw = () => {
    const lcr = io.inb(0x2fb);
    io.outb(0x2fb, lcr | 0x80); // DLAB on: base+0/+1 are the divisor latch
    const divisor = io.inb(0x2f8) | (io.inb(0x2f9) << 8);
    io.outb(0x2fb, lcr);
    return { divisor, lcr };
  };
  uartOpen(io, 0x2f8, { baud: 9600, dataBits: 7, parity: "even", stopBits: 2 });
  expect(raw()).toEqual({ divisor: 12, lcr: 0x1e }); // 115200/9600; 7 bits (10), 2 stop (bit 2), even parity (bits 3-4)
  expect(uartReadSettings(io, 0x2f8)).toEqual(raw());
  uartOpen(io, 0x2f8, { baud: 115200 });
  expect(raw()).toEqual({ divisor: 1, lcr: 0x03 });
});

test("uartWrite sends a line (witness: the host COM2 file)", async () => {
  uartOpen(io, 0x2f8);
  const line = `uartWrite ${process.pid} through THR\n`;
  expect(uartWrite(io, 0x2f8, line)).toBe(line.length);
  const file = await eventually(
    () => hostFile("com2").toString(),
    (s) => s.includes(line),
  );
  expect(file).toContain(line);
});

test("uartRead receives what loopback sends, in order, and nothing reaches the line (witness: the host COM2 file unchanged)", async () => {
  const before = hostFile("com2").length;
  uartOpen(io, 0x2f8, { loopback: true });
  const data = new Uint8Array([0x00, 0x55, 0xaa, 0xff, 0x0d, 0x0a, 0x41]);
  expect(uartWrite(io, 0x2f8, data)).toBe(data.length);
  expect([...uartRead(io, 0x2f8, 64, 200)]).toEqual([...data]);
  expect(uartRead(io, 0x2f8, 8, 20).length).toBe(0);
  uartOpen(io, 0x2f8);
  await Bun.sleep(100);
  expect(hostFile("com2").length).toBe(before);
});
