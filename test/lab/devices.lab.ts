// Real port I/O against QEMU's devices, each checked against an independent witness.
// Runs inside the lab VM as root (test/vm-suite.test.ts boots it).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { pciRead32, readRtc } from "../../lib/devices/index.ts";
import { type Ioperm, open, ops } from "../../lib/index.ts";
import { bracketClock, debianIo, eventually, hostFile, sysPciDevices } from "./witness.ts";
import { hexDigits } from "../../lib/format.ts";

let io: Ioperm;
beforeAll(() => {
  io = open({ backend: "direct" });
});
afterAll(() => io.close());

describe("parallel port LPT1 at 0x378", () => {
  test("data register reads back what was written (witness: the host LPT file gets the strobed bytes)", async () => {
    io.grant(0x378, 3);
    const data = io.port8(0x378);
    const ctrl = io.port8(0x37a);
    const sent = [0xac, 0x53, 0x0f, 0xf0, 0x5a];
    const before = hostFile("lpt1").length; // other files in this VM strobe LPT1 too
    for (const b of sent) {
      data.write(b);
      expect(data.read()).toBe(b);
      // SELECT and INIT high, then pulse STROBE (control bit 0): the latch goes out.
      ctrl.write(0x0c);
      ctrl.write(0x0d);
      ctrl.write(0x0c);
    }
    const file = await eventually(
      () => hostFile("lpt1"),
      (f) => f.length >= before + sent.length,
    );
    expect([...file.subarray(before)]).toEqual(sent);
  });
});

describe("16550A UART COM2 at 0x2F8", () => {
  test("scratch register reads back (witness: a string sent through THR lands in the host COM2 file)", async () => {
    io.grant(0x2f8, 8);
    for (const v of [0x5a, 0xa5, 0x3c]) {
      io.outb(0x2ff, v);
      expect(io.inb(0x2ff)).toBe(v);
    }
    io.outb(0x2fb, 0x03); // LCR: 8N1, DLAB off, so base+0 is THR
    const text = "ioperm via THR\n";
    for (const ch of new TextEncoder().encode(text)) {
      for (let spin = 0; (io.inb(0x2fd) & 0x20) === 0 && spin < 100000; spin++); // LSR.THRE
      io.outb(0x2f8, ch);
    }
    const file = await eventually(
      () => hostFile("com2").toString(),
      (s) => s.includes(text),
    );
    expect(file).toContain(text);
  });
});

test("string I/O: writeFrom(0xE9) reaches isa-debugcon (witness: host debugcon file)", async () => {
  io.grant(0xe9);
  const text = `rep outsb ${process.pid}\n`;
  io.writeFrom(0xe9, new TextEncoder().encode(text));
  const file = await eventually(
    () => hostFile("debugcon").toString(),
    (s) => s.includes(text),
  );
  expect(file).toContain(text);
});

test("CMOS RTC at 0x70/0x71 lies between two reads of it by the guest kernel's rtc-cmos, right before and after (witness: rtc0's since_epoch)", () => {
  io.grant(0x70, 2);
  expect(
    bracketClock(
      () => readRtc(io).date,
      (d) => d.getTime(),
    ),
  ).toMatchObject({ within: true });
});

test("readRtc decodes binary and 12-hour modes too, each bracketed by the kernel's own reads of the RTC (witnesses: rtc0's since_epoch, status B read back)", () => {
  io.grant(0x70, 2);
  const setB = (v: number) => {
    io.outb(0x70, 0x0b);
    io.outb(0x71, v);
  };
  const original = readRtc(io).statusB;
  try {
    // status B bit 2: binary (else BCD); bit 1: 24-hour (else 12-hour, PM in the hour's bit 7)
    for (const [mode, bits] of [
      ["binary, 24 h", 0x06],
      ["BCD, 12 h", 0x00],
      ["binary, 12 h", 0x04],
    ] as const) {
      // The kernel reads the RTC in its own mode (24 h): the mode is ours only for our read.
      const b = bracketClock(
        () => {
          setB((original & ~0x06) | bits);
          try {
            return readRtc(io);
          } finally {
            setB(original);
          }
        },
        (t) => t.date.getTime(),
      );
      expect({ mode, within: b.within, bcd: b.value.bcd, hour24: b.value.hour24, statusB: b.value.statusB & 0x06 }).toEqual({
        mode,
        within: true,
        bcd: (bits & 0x04) === 0,
        hour24: (bits & 0x02) !== 0,
        statusB: bits,
      });
    }
  } finally {
    setB(original);
  }
  expect(readRtc(io).statusB).toBe(original);
});

test("a prepared batch keeps its own copy: changing the op list afterwards changes nothing it sends (witness: the host debugcon file)", async () => {
  io.grant(0xe9);
  const text = `prepared ${process.pid}\n`;
  const list = [...new TextEncoder().encode(text)].map((ch) => ops.outb(0xe9, ch));
  const prepared = io.prepare(list);
  // "X" everywhere: too late, the batch was copied at prepare() (the fields are readonly only to the type checker)
  for (const op of list) (op as { value: number }).value = 0x58;
  list.length = 1;
  prepared.run();
  const file = await eventually(
    () => hostFile("debugcon").toString(),
    (s) => s.includes(text),
  );
  expect(file).toContain(text);
  expect(file).not.toContain("XXXX");
});

/** PCI configuration mechanism #1: 32-bit address to 0xCF8, 32-bit data at 0xCFC. */
const pciRead = (bus: number, dev: number, fn: number, off: number) => pciRead32(io, bus, dev, fn, off);

test("PCI config space lists the same functions as the guest kernel (witness: /sys/bus/pci/devices)", () => {
  io.grant(0xcf8, 8);
  const found: string[] = [];
  for (let dev = 0; dev < 32; dev++) {
    const fns = (pciRead(0, dev, 0, 0x0c) >> 16) & 0x80 ? 8 : 1;
    for (let fn = 0; fn < fns; fn++) {
      const id = pciRead(0, dev, fn, 0);
      if ((id & 0xffff) === 0xffff) continue;
      found.push(`00:${hexDigits(dev, 2)}.${fn} ${hexDigits(id & 0xffff, 4)}:${hexDigits(id >>> 16, 4)}`);
    }
  }
  expect(found.sort()).toEqual(sysPciDevices());
  expect(found.length).toBeGreaterThanOrEqual(3);
});

test('fw_cfg: 16-bit select at 0x510 and readInto(0x511) give "QEMU" (witness: DMI sys_vendor)', () => {
  io.grant(0x510, 2);
  io.outw(0x510, 0x0000); // FW_CFG_SIGNATURE
  const sig = new TextDecoder().decode(io.readInto(0x511, new Uint8Array(4)));
  expect(sig).toBe("QEMU");
  expect(readFileSync("/sys/class/dmi/id/sys_vendor", "utf8")).toContain("QEMU");
});

test("16-bit I/O: the Bochs VBE ID at 0x1CE/0x1CF is what Debian's inw reads there (witnesses: ioport's inw, the 1234:1111 VGA in /sys)", () => {
  io.grant(0x1ce, 3); // a 16-bit read of the data port at 0x1CF spans 0x1CF-0x1D0
  io.outw(0x1ce, 0); // VBE_DISPI_INDEX_ID
  const id = io.inw(0x1cf);
  debianIo("outw", 0x1ce, 0);
  expect(id).toBe(debianIo("inw", 0x1cf));
  expect(id & 0xfff0).toBe(0xb0c0); // VBE_DISPI_ID0..5
  expect(sysPciDevices().some((d) => d.endsWith(" 1234:1111"))).toBe(true);
});

test("batch: a mixed list reads the fw_cfg signature, the host bridge ID and LPT data (witnesses: DMI, /sys, Debian's inb)", () => {
  io.grant(0x510, 2);
  io.grant(0x378, 3);
  io.grant(0xcf8, 8);
  const sys = (f: string) => Number.parseInt(readFileSync(`/sys/bus/pci/devices/0000:00:00.0/${f}`, "utf8"), 16);
  const hostBridge = (sys("vendor") | (sys("device") << 16)) >>> 0;
  const { inb, inl, outb, outl, outw } = ops;
  const r = io.batch([
    outw(0x510, 0x0000),
    inb(0x511),
    inb(0x511),
    inb(0x511),
    inb(0x511),
    outl(0xcf8, 0x80000000),
    inl(0xcfc),
    outb(0x378, 0x66),
    inb(0x378),
  ]);
  expect(String.fromCharCode(...r.slice(1, 5))).toBe("QEMU");
  expect(readFileSync("/sys/class/dmi/id/sys_vendor", "utf8")).toContain("QEMU");
  expect(r[6]).toBe(hostBridge);
  expect(r[8]).toBe(0x66);
  const other = Bun.spawnSync(["inb", "0x378"], { stdout: "pipe" });
  expect(Number(other.stdout.toString().trim())).toBe(0x66);
  const prepared = io.prepare([outl(0xcf8, 0x80000000), inl(0xcfc)]);
  expect(prepared.run()[1]).toBe(hostBridge);
  expect(prepared.run()[1]).toBe(hostBridge);
});
