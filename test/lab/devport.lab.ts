// The /dev/port backend against the direct one, on the same devices, in the lab VM.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { open } from "../../lib/index.ts";
import { errorCode } from "../error-code.ts";

/** Byte registers that read back stably: LPT data and control, UART scratch, RTC B and day. */
function readings(backend: "direct" | "devport", lptData: number, scratch: number): Record<string, number> {
  using io = open({ backend });
  io.grant(0x378, 3);
  io.grant(0x2f8, 8);
  io.grant(0x70, 2);
  expect(io.grants().backend).toBe(backend);
  io.outb(0x378, lptData);
  io.outb(0x2ff, scratch);
  const cmos = (i: number) => {
    io.outb(0x70, i);
    return io.inb(0x71);
  };
  return {
    lptData: io.inb(0x378),
    lptControl: io.inb(0x37a) & 0x1f,
    uartScratch: io.inb(0x2ff),
    uartLcr: io.inb(0x2fb),
    rtcStatusB: cmos(0x0b),
    rtcDay: cmos(0x07),
  };
}

test("/dev/port writes and reads the same registers as the direct backend (witness: Debian's inb in another process)", () => {
  expect(existsSync("/dev/port")).toBe(true);
  // Different values on each pass: a /dev/port write that did nothing would read back the direct pass's.
  const direct = readings("direct", 0xc3, 0x96);
  const devport = readings("devport", 0x3c, 0x69);
  expect(direct.lptData).toBe(0xc3);
  expect(direct.uartScratch).toBe(0x96);
  expect(devport).toEqual({ ...direct, lptData: 0x3c, uartScratch: 0x69 });
  const inb = (port: string) => Number(Bun.spawnSync(["inb", port], { stdout: "pipe" }).stdout.toString().trim());
  expect(inb("0x378")).toBe(0x3c); // Debian's inb, another process, agrees with what /dev/port wrote
});

test("/dev/port refuses 16- and 32-bit I/O rather than splitting it into bytes", () => {
  using io = open({ backend: "devport" });
  io.grant(0x1ce, 2);
  expect(errorCode(() => io.inw(0x1ce))).toBe("WIDTH_UNSUPPORTED");
  expect(() => io.inw(0x1ce)).toThrow(/byte accesses only/);
});

test("a thread keeps one backend until it releases everything", () => {
  const io = open({ backend: "direct" });
  io.grant(0x80);
  expect(errorCode(() => open({ backend: "devport" }).grant(0x378))).toBe("BACKEND_MISMATCH");
  io.close();
  using dev = open({ backend: "devport" });
  dev.grant(0x378);
  expect(dev.grants().backend).toBe("devport");
});
