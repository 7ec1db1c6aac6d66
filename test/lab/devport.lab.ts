// The /dev/port backend against the direct one, on the same devices, in the lab VM.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { open } from "../../lib/index.ts";
import { errorCode } from "../error-code.ts";

/** Byte registers that read back stably: LPT data and control, UART scratch, RTC B and day. */
function readings(backend: "direct" | "devport"): Record<string, number> {
  using io = open({ backend });
  io.grant(0x378, 3);
  io.grant(0x2f8, 8);
  io.grant(0x70, 2);
  expect(io.grants().backend).toBe(backend);
  io.outb(0x378, 0xc3);
  io.outb(0x2ff, 0x96);
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

test("/dev/port gives the same answers as the direct backend (witness: the device node itself is the kernel's)", () => {
  expect(existsSync("/dev/port")).toBe(true);
  const direct = readings("direct");
  const devport = readings("devport");
  expect(devport).toEqual(direct);
  expect(direct.lptData).toBe(0xc3);
  expect(direct.uartScratch).toBe(0x96);
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
