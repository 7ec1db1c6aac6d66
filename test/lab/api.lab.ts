// README's claims about the API, each shown on a real device in the lab VM and
// checked against a witness the library does not produce: the guest's /sys,
// the host files QEMU's devices write, and Debian's `inb` (package ioport), a
// second process that reads the port for itself.
import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { open, ops, type Port, type ReadOnlyPort, type WriteOnlyPort } from "../../lib/index.ts";
import { errorCode } from "../error-code.ts";
import { eventually, hostFile } from "./witness.ts";
import { asNobody } from "../nobody.ts";

const io = open({ backend: "direct" });
afterAll(() => io.close());

/** The host bridge 00:00.0 as the guest kernel enumerated it: vendor | device << 16. */
function sysHostBridge(): { vendor: number; id: number } {
  const read = (f: string) => Number.parseInt(readFileSync(`/sys/bus/pci/devices/0000:00:00.0/${f}`, "utf8"), 16);
  return { vendor: read("vendor"), id: (read("vendor") | (read("device") << 16)) >>> 0 };
}

/** Debian's `inb PORT` (ioport), run as a separate process: its own ioperm, its own read. */
function inbElsewhere(port: number): number {
  const r = Bun.spawnSync(["inb", `0x${port.toString(16)}`], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`inb 0x${port.toString(16)} failed: ${r.stderr}`);
  return Number(r.stdout.toString().trim());
}

test("port32/port16: a write-only address port and read-only data ports read the host bridge ID (witness: /sys)", () => {
  io.grant(0xcf8, 8);
  const address: WriteOnlyPort<32> = io.port32(0xcf8, "w");
  const data: ReadOnlyPort<32> = io.port32(0xcfc, "r");
  const low: ReadOnlyPort<16> = io.port16(0xcfc, "r");
  address.write(0x80000000); // bus 0, device 0, function 0, register 0
  expect(data.read()).toBe(sysHostBridge().id);
  expect(low.read()).toBe(sysHostBridge().vendor);
  // Read-only and write-only are enforced by type, and the methods do not exist at run time either.
  // @ts-expect-error a ReadOnlyPort has no write()
  expect(() => data.write(0)).toThrow(TypeError);
  // @ts-expect-error a WriteOnlyPort has no read()
  expect(() => address.read()).toThrow(TypeError);
  const both: Port<32> = io.port32(0xcfc);
  expect(both.read()).toBe(sysHostBridge().id);
});

test("readInto with Uint32Array and Uint16Array (rep insl/insw) on PCI config data (witness: /sys)", () => {
  io.grant(0xcf8, 8);
  io.outl(0xcf8, 0x80000000);
  expect([...io.readInto(0xcfc, new Uint32Array(3))]).toEqual([sysHostBridge().id, sysHostBridge().id, sysHostBridge().id]);
  expect([...io.readInto(0xcfc, new Uint16Array(2))]).toEqual([sysHostBridge().vendor, sysHostBridge().vendor]);
});

test("writeFrom with Uint32Array (rep outsl): the last address written selects the function read next (witness: /sys)", () => {
  io.grant(0xcf8, 8);
  const vga = readdirVga();
  io.writeFrom(0xcf8, new Uint32Array([0x80000000, 0x80000000 | (vga.dev << 11)]));
  expect(io.inl(0xcfc)).toBe(vga.id);
});

test("writeFrom with Uint16Array (rep outsw) to LPT1: each word's low byte lands in the data register (witness: Debian's inb in another process)", () => {
  io.grant(0x378, 3);
  io.outb(0x378, 0x00);
  // QEMU splits a 16-bit access to the byte-wide LPT registers: low byte to data (0x378), high byte to status (read-only).
  io.writeFrom(0x378, new Uint16Array([0xff3c, 0xff5d]));
  expect(inbElsewhere(0x378)).toBe(0x5d);
});

test("batch: if any op is refused, none runs (witness: the LPT data register, read by Debian's inb in another process)", () => {
  io.grant(0x378, 3);
  io.outb(0x378, 0x11);
  expect(inbElsewhere(0x378)).toBe(0x11);
  // 0x3BC is not granted: the whole list is refused before the first write.
  expect(errorCode(() => io.batch([ops.outb(0x378, 0x99), ops.inb(0x379), ops.inb(0x3bc)]))).toBe("NOT_GRANTED");
  expect(inbElsewhere(0x378)).toBe(0x11);
  io.batch([ops.outb(0x378, 0x99), ops.inb(0x379)]);
  expect(inbElsewhere(0x378)).toBe(0x99);
});

test("prepare: a grant change makes the next run re-check, so a released port refuses the whole list before any op runs (witness: Debian's inb in another process)", () => {
  io.grant(0x378, 3);
  const prepared = io.prepare([ops.outb(0x378, 0x21), ops.inb(0x379)]);
  prepared.run();
  expect(inbElsewhere(0x378)).toBe(0x21);
  io.release(0x379, 1);
  io.outb(0x378, 0x33);
  let caught: unknown;
  try {
    prepared.run();
  } catch (e) {
    caught = e;
  }
  expect(errorCode(() => prepared.run())).toBe("NOT_GRANTED");
  expect((caught as Error).message).toContain("batch[1]");
  expect(inbElsewhere(0x378)).toBe(0x33); // op 0, the write, never ran
  io.grant(0x379, 1);
  expect(prepared.run()[1]).toBe(inbElsewhere(0x379));
  expect(inbElsewhere(0x378)).toBe(0x21);
});

test("/dev/port refuses inl, outw and outl and nothing reaches the device (witness: host debugcon file unchanged)", async () => {
  using dev = openOtherThreadless("devport");
  dev.grant(0xe9, 4);
  dev.grant(0xcf8, 8);
  const before = hostFile("debugcon").length;
  expect(errorCode(() => dev.inl(0xcfc))).toBe("WIDTH_UNSUPPORTED");
  expect(errorCode(() => dev.outw(0xe9, 0x4142))).toBe("WIDTH_UNSUPPORTED");
  expect(errorCode(() => dev.outl(0xe9, 0x41424344))).toBe("WIDTH_UNSUPPORTED");
  dev.outb(0xe9, 0x0a); // a byte does go through, so the file would have changed
  await eventually(
    () => hostFile("debugcon").length,
    (n) => n > before,
  );
  expect(hostFile("debugcon").length).toBe(before + 1);
});

test("an ordinary user opening /dev/port gets EACCES naming the remedy (witness: /dev/port's mode and owner)", () => {
  const r = Bun.spawnSync([...asNobody, process.execPath, "test/fixtures/unprivileged.ts", "devport"], {
    env: { ...process.env, HOME: "/tmp" },
    stderr: "pipe",
  });
  expect(r.exitCode).toBe(0);
  const report = JSON.parse(r.stdout.toString()) as { uid: number; code: string; message: string; after: string };
  const mode = Bun.spawnSync(["stat", "-c", "%a %u", "/dev/port"]).stdout.toString().trim();
  expect(mode).toMatch(/^6[04]0 0$/); // no access for others: the kernel refuses the open itself
  expect({ uid: report.uid, code: report.code, after: report.after }).toEqual({ uid: 65534, code: "EACCES", after: "NOT_GRANTED" });
  expect(report.message).toContain("/dev/port");
});

test("open({ backend: \"auto\" }) falls back to /dev/port when ioperm is refused (witnesses: the seccomp filter's EPERM, Debian's inb)", () => {
  const r = Bun.spawnSync(["python3", "test/fixtures/seccomp-deny-ioperm.py", process.execPath, "test/fixtures/auto-grant.ts", "0x6c"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  expect(JSON.parse(r.stdout.toString())).toEqual({ backend: "devport", back: 0x6c });
  expect(inbElsewhere(0x378)).toBe(0x6c);
  // The same fixture without the filter takes the direct path: the fallback above was the filter's doing.
  const direct = Bun.spawnSync([process.execPath, "test/fixtures/auto-grant.ts", "0x6d"], { stdout: "pipe" });
  expect(JSON.parse(direct.stdout.toString())).toEqual({ backend: "direct", back: 0x6d });
});

/** The VGA function (1234:1111) on bus 0, from /sys: its device number and ID. */
function readdirVga(): { dev: number; id: number } {
  const dir = "/sys/bus/pci/devices";
  for (const d of readdirSync(dir)) {
    const read = (f: string) => Number.parseInt(readFileSync(`${dir}/${d}/${f}`, "utf8"), 16);
    if (read("vendor") === 0x1234 && read("device") === 0x1111) {
      return { dev: Number.parseInt(d.split(":")[2] ?? "0", 16), id: (0x1234 | (0x1111 << 16)) >>> 0 };
    }
  }
  throw new Error("no 1234:1111 VGA in /sys");
}

/** The direct handle above holds this thread's grants; a devport handle needs them released first. */
function openOtherThreadless(backend: "devport") {
  io.release();
  return open({ backend });
}

test("after grant(0x378, 3) a 32-bit access at 0x378 is refused naming 0x37B, the byte not held (witness: isGranted per byte, and the thread still runs)", () => {
  using lpt = open({ backend: "direct" });
  lpt.release(); // grants are the thread's: start from none, whatever earlier tests held
  lpt.grant(0x378, 3);
  expect([0x378, 0x379, 0x37a, 0x37b].map((p) => lpt.isGranted(p))).toEqual([true, true, true, false]);
  let message = "";
  try {
    lpt.inl(0x378);
  } catch (e) {
    expect((e as { code?: string }).code).toBe("NOT_GRANTED");
    message = (e as Error).message;
  }
  expect(message).toStartWith("inl(0x378): port 0x37B is not granted to this thread (a 32-bit access at 0x378 uses ports 0x378-0x37B)");
  expect(() => lpt.outw(0x37a, 0)).toThrow("port 0x37B is not granted");
  expect(() => lpt.batch([ops.inb(0x379), ops.inw(0x37a)])).toThrow("batch[1](0x37A): port 0x37B is not granted");
  lpt.release();
});
