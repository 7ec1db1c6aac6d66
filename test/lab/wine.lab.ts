// ioperm.sys doing real port I/O: Wine inside the lab VM, started through
// ioperm-with-iopl so winedevice.exe holds iopl(3) and the driver's in/out
// reach QEMU's LPT1 and isa-debugcon. Each request is checked against the host
// file QEMU wrote, and each refusal against the file staying unchanged. Timed
// steps (wait, delay, pulse) run in the driver here, polling real devices.
// The host prepares the prefix before boot (Wine in TCG would take minutes):
// @lab-host-prepare sh scripts/windows/lab-prefix.sh
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { open } from "../../lib/index.ts";
import { iopermctl, iopermDll, labWine, root, wineDir, WineSession, wineProcesses, winPath } from "../windows/lab-wine.ts";
import { batch, type CtlResult, h, ioctl, jsonLines, op, pair, reply } from "../windows/wine.ts";
import { eventually, hostFile } from "./witness.ts";
import { hexDigits } from "../../lib/format.ts";

const info = labWine();
const why = typeof info === "string" ? info : null;
const W = h.IOPERM_OP_WRITE!;
const R = (name: string) => h[`IOPERM_RESULT_${name}`]!;
const VERSION = ioctl("VERSION", null, 24);
const outb = (port: number, value: number) => op(port, 1, W, value);
const DELAY = h.IOPERM_OP_DELAY!;
/** A timed step: its head and its parameter slot (windows-driver/include/ioperm_ioctl.h). */
const wait = (port: number, mask: number, expect: number, timeoutUs: number) => [
  op(port, 1, h.IOPERM_OP_WAIT!, timeoutUs),
  pair(mask, expect),
];
const pulse = (port: number, value: number, holdUs: number, rest: number) => [op(port, 1, h.IOPERM_OP_PULSE!, value), pair(rest, holdUs)];
const strobe = [outb(0x37a, 0x0c), outb(0x37a, 0x0d), outb(0x37a, 0x0c)];
const text = (s: string) => [...new TextEncoder().encode(s)];
const hex = (s: string) => Buffer.from(s).toString("hex");

/** "0x80-0x83 0xE9" -> every port it names. */
function ports(list: string): number[] {
  return list.split(/\s+/).flatMap((e) => {
    const [a = 0, b = a] = e.split("-").map(Number);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

/** Port reply verdict and value, or the Win32 error. */
const port = (r: CtlResult | undefined) =>
  r?.ok ? { result: reply(r).getInt32(0, true), value: reply(r).getUint32(4, true) } : { error: r?.error ?? "missing" };
/** Batch header verdict and refused index, or the Win32 error. */
const batched = (r: CtlResult | undefined) =>
  r?.ok ? { result: reply(r).getInt32(4, true), index: reply(r).getUint32(8, true) } : { error: r?.error ?? "missing" };

let session: WineSession;
let scripts = 0;

/** iopermctl over a script of raw requests (windows-driver/exe/iopermctl.c), one result per request. */
function ctl(lines: string[]): CtlResult[] {
  const file = join(wineDir(), `ctl-${scripts++}.txt`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return jsonLines<CtlResult>(session.run(iopermctl, ["script", winPath(file)]).lines);
}

describe.skipIf(why !== null)(`ioperm.sys in Wine in the lab VM${why ? ` (skipped: ${why})` : ""}`, () => {
  beforeAll(() => {
    if (typeof info === "string") throw new Error(info); // unreachable: the describe is skipped then
    session = new WineSession(info);
    const ms = session.start();
    console.log(`wine.lab: Wine session up, driver answering, after ${(ms / 1000).toFixed(1)} s`);
  }, 120_000);
  afterAll(() => session?.stop());

  test("the driver runs with the allowlist the host wrote to Parameters\\AllowedPorts (witness: the prefix's system.reg)", () => {
    if (typeof info === "string") throw new Error(info); // unreachable: the describe is skipped then
    const [, v, list] = ctl(["open r", VERSION, ioctl("ALLOWLIST", null, 8192)]);
    expect(reply(v!).getUint32(8, true)).toBe(
      h.IOPERM_CAP_PORT_IO! | h.IOPERM_CAP_PCI_READ! | h.IOPERM_CAP_TIMED_STEPS! | h.IOPERM_CAP_REGISTRY_LIST!,
    );
    const bits = Buffer.from(list!.out!, "hex");
    const allowed = Array.from({ length: 0x10000 }, (_, p) => p).filter((p) => bits[p >> 3]! & (1 << (p & 7)));
    // The registry as Wine stores it: "AllowedPorts"=str(7):"0x80-0x83\0000xE9\0…" (octal escapes).
    const reg = readFileSync(join(info.prefix, "system.reg"), "utf8");
    const value = /^"AllowedPorts"=str\(7\):"(.*)"$/m.exec(reg)?.[1] ?? "";
    const unescaped = value.replace(/\\([0-7]{1,3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    const fromRegistry = unescaped
      .split("\0")
      .filter((e) => e !== "")
      .join(" ");
    expect(fromRegistry).toBe(info.allowlist);
    expect(allowed).toEqual(ports(fromRegistry));
  }, 60_000);

  test("raw IOCTLs: LPT1 data WRITE 0xAC reads back 0xAC, and strobed bytes go out (witness: host LPT file)", async () => {
    const before = hostFile("lpt1").length;
    const sent = [0xac, 0x53, 0x0f, 0xf0];
    const lines = [
      "open rw",
      ...sent.flatMap((b) => [ioctl("WRITE", outb(0x378, b), 8), ioctl("READ", op(0x378, 1), 8), ioctl("BATCH", batch(strobe), 40)]),
    ];
    const [opened, ...results] = ctl(lines);
    expect(opened!.ok).toBe(true);
    const got = sent.map((_, i) => [port(results[3 * i]), port(results[3 * i + 1]), batched(results[3 * i + 2])]);
    expect(got).toEqual(
      sent.map((b) => [
        { result: R("OK"), value: 0 },
        { result: R("OK"), value: b },
        { result: R("OK"), index: 3 },
      ]),
    );
    const file = await eventually(
      () => hostFile("lpt1").subarray(before),
      (f) => f.length >= sent.length,
    );
    expect([...file]).toEqual(sent);
  }, 60_000);

  test("raw IOCTLs: a BATCH of outb to 0xE9 writes a string (witness: host debugcon file)", async () => {
    const msg = `ioperm.sys BATCH via Wine ${process.pid}\n`;
    const [, r] = ctl(["open rw", ioctl("BATCH", batch(text(msg).map((c) => outb(0xe9, c))), 16 + 8 * msg.length)]);
    expect(batched(r)).toEqual({ result: R("OK"), index: msg.length });
    const file = await eventually(
      () => hostFile("debugcon").toString(),
      (s) => s.includes(msg),
    );
    expect(file).toContain(msg);
  }, 60_000);

  test("ports outside the allowlist are refused and nothing runs (witness: debugcon and COM2 files unchanged; the VM not reset)", async () => {
    const refused = `REFUSED ${process.pid}\n`;
    const after = `after the refusals ${process.pid}\n`;
    const results = ctl([
      "open rw",
      ioctl("READ", op(0x64, 1), 8), // keyboard controller
      ioctl("WRITE", outb(0x2f8, 0x23), 8), // COM2 THR: in the default list, not in the lab's
      // Allowed debugcon bytes, then the classic reset: checked as a whole, so nothing goes out.
      ioctl("BATCH", batch([...text(refused).map((c) => outb(0xe9, c)), outb(0x64, 0xfe)]), 16 + 8 * (refused.length + 1)),
      ioctl("BATCH", batch(text(refused).map((c) => outb(0x2f8, c))), 16 + 8 * refused.length),
      ioctl("BATCH", batch(text(after).map((c) => outb(0xe9, c))), 16 + 8 * after.length),
      VERSION,
    ]);
    expect([port(results[1]), port(results[2]), batched(results[3]), batched(results[4]), batched(results[5]), results[6]?.ok]).toEqual([
      { result: R("NOT_ALLOWED"), value: 0 },
      { result: R("NOT_ALLOWED"), value: 0 },
      { result: R("NOT_ALLOWED"), index: refused.length },
      { result: R("NOT_ALLOWED"), index: 0 },
      { result: R("OK"), index: after.length },
      true,
    ]);
    // The allowed batch sent after the refused one arrived; the refused one never did.
    const debugcon = await eventually(
      () => hostFile("debugcon").toString(),
      (s) => s.includes(after),
    );
    expect(debugcon).toContain(after);
    expect(debugcon).not.toContain(refused);
    // COM2 calibration: the same port written directly from Linux does reach the file.
    const direct = `direct to COM2 ${process.pid}\n`;
    {
      using io = open({ backend: "direct" });
      io.grant(0x2f8, 8);
      io.outb(0x2fb, 0x03); // LCR: 8N1, DLAB off, so base+0 is THR
      for (const ch of text(direct)) {
        for (let spin = 0; (io.inb(0x2fd) & 0x20) === 0 && spin < 100000; spin++); // LSR.THRE
        io.outb(0x2f8, ch);
      }
    }
    const com2 = await eventually(
      () => hostFile("com2").toString(),
      (s) => s.includes(direct),
    );
    expect(com2).toContain(direct);
    expect(com2).not.toContain("#");
    expect(com2).not.toContain(refused);
  }, 60_000);

  test("timed steps in one BATCH: waits on LPT1 status, a strobe pulse per byte, a delay (witness: host LPT file)", async () => {
    // Status bits 0x18 (select in, no error) stay set on QEMU's parallel port; each byte
    // goes out on the rising edge of its strobe pulse, so without each pulse's rest write
    // only the first byte would arrive.
    const sent = text(`pulse ${process.pid}\n`);
    const slots = [
      outb(0x37a, 0x0c),
      op(0, 0, DELAY, 100),
      ...sent.flatMap((b) => [outb(0x378, b), ...wait(0x379, 0x18, 0x18, 10_000), ...pulse(0x37a, 0x0d, 5, 0x0c)]),
    ];
    const before = hostFile("lpt1").length;
    const [, r] = ctl(["open rw", ioctl("BATCH", batch(slots), 16 + 8 * slots.length)]);
    expect(batched(r)).toEqual({ result: R("OK"), index: slots.length });
    const file = await eventually(
      () => hostFile("lpt1").subarray(before),
      (f) => f.length >= sent.length,
    );
    expect([...file]).toEqual(sent);
  }, 60_000);

  test("a wait that cannot match times out in the driver: TIMEOUT, its slot and last value; nothing after it ran (witnesses: debugcon, Debian's inb)", async () => {
    const first = `before the wait ${process.pid}\n`;
    const never = `after the wait ${process.pid}\n`;
    const head = text(first).length;
    const slots = [...text(first).map((c) => outb(0xe9, c)), ...wait(0x379, 0x18, 0x00, 2000), ...text(never).map((c) => outb(0xe9, c))];
    // And a wait on COM2's LSR, outside the lab's allowlist: refused before anything ran.
    const refused = [outb(0xe9, 0x21), ...wait(0x2fd, 0x20, 0x20, 10)];
    const [, r, no] = ctl([
      "open rw",
      ioctl("BATCH", batch(slots), 16 + 8 * slots.length),
      ioctl("BATCH", batch(refused), 16 + 8 * refused.length),
    ]);
    expect(batched(r)).toEqual({ result: R("TIMEOUT"), index: head });
    expect(batched(no)).toEqual({ result: R("NOT_ALLOWED"), index: 1 });
    const last = reply(r!).getUint32(12, true);
    const inb = Bun.spawnSync(["inb", "0x379"], { stdout: "pipe" });
    expect({ last: last & 0x18, debian: Number(inb.stdout.toString().trim()) & 0x18 }).toEqual({ last: 0x18, debian: 0x18 });
    const debugcon = await eventually(
      () => hostFile("debugcon").toString(),
      (t) => t.includes(first),
    );
    await Bun.sleep(200);
    expect(debugcon).toContain(first);
    expect(hostFile("debugcon").toString()).not.toContain(never);
  }, 60_000);

  test("raw IOCTL: PCI_READ of 00:00.0 and 00:01.0 gives what the guest kernel sees (witness: /sys/bus/pci and lspci -n)", () => {
    if (typeof info === "string") throw new Error(info); // unreachable: the describe is skipped then
    const address = (dev: number, offset: number) => {
      const v = new DataView(new ArrayBuffer(16));
      v.setUint32(4, dev, true);
      v.setUint32(12, offset, true);
      return new Uint8Array(v.buffer);
    };
    const [opened, id0, cls0, id1, after] = ctl([
      "open r",
      ioctl("PCI_READ", address(0, 0x00), 4),
      ioctl("PCI_READ", address(0, 0x08), 4),
      ioctl("PCI_READ", address(1, 0x00), 4),
      VERSION,
    ]);
    expect(opened!.ok && after!.ok).toBe(true);
    const dword = (r: CtlResult | undefined) => (r?.ok ? reply(r).getUint32(0, true) : `error ${r?.error}`);
    const sys = (bdf: string, f: string) => Number(readFileSync(`/sys/bus/pci/devices/0000:${bdf}/${f}`, "utf8").trim());
    const fromSys = (bdf: string) => ((sys(bdf, "device") << 16) | sys(bdf, "vendor")) >>> 0;
    expect([dword(id0), dword(id1)]).toEqual([fromSys("00:00.0"), fromSys("00:01.0")]);
    expect(dword(id0)).toBe(0x12378086); // QEMU's i440FX host bridge, 8086:1237
    expect((dword(cls0) as number) >>> 8).toBe(sys("00:00.0", "class"));
    const lspci = Bun.spawnSync(["lspci", "-n", "-s", "00:00.0"]).stdout.toString();
    expect(lspci).toContain("8086:1237");
  }, 60_000);

  test.skipIf(typeof info !== "string" && info.bunExe === null)(
    "the TypeScript API in bun.exe: lib -> ioperm.dll -> driver reads back LPT1, strobes it, writes debugcon, reads PCI 00:00.0 (witness: host LPT and debugcon files, the guest's /sys)",
    async () => {
      if (typeof info === "string" || info.bunExe === null) throw new Error("no bun.exe; this test should have been skipped");
      const lpt = [0xac, 0x35];
      const viaBatch = `lib batch() in bun.exe via Wine ${process.pid}\n`;
      const viaString = `lib writeFrom() in bun.exe via Wine ${process.pid}\n`;
      const before = hostFile("lpt1").length;
      const r = session.run(info.bunExe, [
        winPath(join(root, "test/lab/wine-guest.ts")),
        winPath(iopermDll),
        `lpt=${lpt.join(",")}`,
        `debugcon-batch=${hex(viaBatch)}`,
        `debugcon-string=${hex(viaString)}`,
        "grant=0x64,1",
        "grant=0x2f8,8",
        "outb=0x2f8,0x23",
        "pci=0,0,0,0",
      ]);
      const steps = r.lines
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { step: string; rc: unknown; [k: string]: unknown });
      expect({ exit: r.code, steps: steps.map((s) => [s.step.split("=")[0], s.rc]) }).toEqual({
        exit: 0,
        steps: [
          ["lpt", 0],
          ["debugcon-batch", 0],
          ["debugcon-string", 0],
          ["grant", "NOT_ALLOWED"],
          ["grant", "NOT_ALLOWED"],
          ["outb", "NOT_GRANTED"], // never left the process
          ["pci", 0],
        ],
      });
      // pciRead32 on win32 goes through the driver's PCI_READ, no grant (witness: the guest's /sys).
      const sys = (f: string) => Number(readFileSync(`/sys/bus/pci/devices/0000:00:00.0/${f}`, "utf8").trim());
      expect(steps[6]).toMatchObject({ value: ((sys("device") << 16) | sys("vendor")) >>> 0 });
      expect(steps[0]).toMatchObject({ readback: lpt, grants: { backend: "driver" } });
      const file = await eventually(
        () => hostFile("lpt1").subarray(before),
        (f) => f.length >= lpt.length,
      );
      expect([...file]).toEqual(lpt);
      const debugcon = await eventually(
        () => hostFile("debugcon").toString(),
        (s) => s.includes(viaString),
      );
      expect(debugcon).toContain(viaBatch);
      expect(debugcon).toContain(viaString);
      expect(hostFile("com2").toString()).not.toContain("#");
    },
    90_000,
  );

  test.skipIf(typeof info !== "string" && info.bunExe === null)(
    "`ioperm pci` in bun.exe (the driver's PCI_READ, no grant) prints what lspci -n prints (witness: pciutils)",
    () => {
      if (typeof info === "string" || info.bunExe === null) throw new Error("no bun.exe; this test should have been skipped");
      const r = session.run(info.bunExe, [winPath(join(root, "lib/cli.ts")), "pci"]);
      const printed = r.lines.filter((l) => /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] /.test(l));
      const lspci = Bun.spawnSync(["lspci", "-n"]).stdout.toString().trim().split("\n");
      expect({ exit: r.code, printed }).toEqual({ exit: 0, printed: lspci });
    },
    90_000,
  );

  test.skipIf(typeof info !== "string" && info.bunExe === null)(
    "the probe in bun.exe (`probe.ts --only pci --json`) lists the functions lspci -n lists, with no grant of 0xCF8 (witness: pciutils)",
    () => {
      if (typeof info === "string" || info.bunExe === null) throw new Error("no bun.exe; this test should have been skipped");
      const r = session.run(info.bunExe, [winPath(join(root, "probe.ts")), "--only", "pci", "--json"]);
      // The report is the JSON document in the output (Wine may add lines of its own around it).
      const text = r.lines.join("\n");
      const json = text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1);
      expect(json.length, text).toBeGreaterThan(0);
      const report = JSON.parse(json) as { pci: { functions: { bdf: string; vendor: number; deviceId: number }[] } };
      const h4 = (n: number) => hexDigits(n, 4);
      const found = report.pci.functions.map((f) => `${f.bdf} ${h4(f.vendor)}:${h4(f.deviceId)}`);
      const lspci = Bun.spawnSync(["lspci", "-n"])
        .stdout.toString()
        .trim()
        .split("\n")
        .map((l) => l.replace(/^(\S+) [0-9a-f]{4}: ([0-9a-f]{4}:[0-9a-f]{4}).*$/, "$1 $2"));
      expect({ exit: r.code, found }).toEqual({ exit: 0, found: lspci });
    },
    90_000,
  );

  test("ending the session leaves no Wine process behind (witness: /proc)", () => {
    session.stop();
    expect(wineProcesses()).toEqual([]);
  }, 60_000);
});
