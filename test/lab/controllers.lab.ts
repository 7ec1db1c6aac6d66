// The controllers of issue #20 against their witnesses in the same VM: IPMI
// over KCS (QEMU's ipmi-bmc-sim) against `ipmitool mc info` through ipmi_si,
// PIIX4 SMBus against `i2cdetect`/`i2cget` through i2c-piix4 (QEMU's pc has
// eight SPD EEPROMs at 0x50-0x57, all zeros), and the 8042 against QEMU's own
// trace of what the controller received and answered. The library runs first,
// with no driver bound; then each driver is loaded and its tool asked.
// @lab-device ipmi-bmc-sim,id=bmc0
// @lab-device isa-ipmi-kcs,bmc=bmc0
// @lab-qemu-trace pckbd_kbd_write_command
// @lab-qemu-trace pckbd_kbd_write_data
// @lab-qemu-trace pckbd_kbd_read_data
import { afterAll, expect, test } from "bun:test";
import { openSync, readFileSync, writeSync } from "node:fs";
import {
  ControllerError,
  decodeKcsStatus,
  getDeviceId,
  i2cdetectGrid,
  i8042SelfTest,
  kcsAbort,
  kcsRequest,
  kcsStatus,
  parseI2cdetect,
  portOwner,
  readI8042Config,
  SmbusHost,
} from "../../lib/devices/index.ts";
import { open } from "../../lib/index.ts";
import { probe } from "./probe-lib.ts";
import { eventually, ioportsClaims, labFiles } from "./witness.ts";

const io = open({ backend: "direct" });
afterAll(() => io.close());
const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
const insmod = (...mods: string[]) => {
  for (const m of mods) {
    const [path, ...params] = m.split(" ");
    const r = Bun.spawnSync(["busybox", "insmod", `/lib/modules/${release}/kernel/drivers/${path}`, ...params], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`insmod ${m}: ${r.stderr}`);
  }
};
const sh = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};
const cli = (...args: string[]) => sh([process.execPath, "lib/cli.ts", ...args]);
const example = (name: string) => {
  const r = sh([process.execPath, `examples/${name}.ts`]);
  if (r.code !== 0) throw new Error(`examples/${name}.ts exited ${r.code}: ${r.err}`);
  return r.out;
};

// ---- 8042 ---------------------------------------------------------------------------------------------------------

/** QEMU's trace lines ("pid@seconds:event value"), as [event, value]. */
const trace = () =>
  readFileSync(labFiles().qemuTrace ?? "", "utf8")
    .split("\n")
    .map((l) => /:(pckbd_\w+) (0x[0-9a-f]+)/.exec(l))
    .filter((m) => m !== null)
    .map((m) => [m[1] ?? "", Number(m[2])] as [string, number]);
let i8042Config = -1;
const irq1 = () => Number(/^\s*1:\s+(\d+)/m.exec(readFileSync("/proc/interrupts", "utf8"))?.[1] ?? Number.NaN);

test("8042: self-test 0x55 and the configuration byte the kernel wrote at boot, restored (witness: QEMU's pckbd trace)", async () => {
  io.grant(0x60, 1);
  io.grant(0x64, 1);
  const before = trace();
  // The last configuration byte the kernel's i8042 driver wrote: command 0x60, then its data.
  const kernelConfig = before.findLast(
    (e, i) => e[0] === "pckbd_kbd_write_data" && before[i - 1]?.join() === "pckbd_kbd_write_command,96",
  )?.[1];
  const irqBefore = irq1();
  const r = i8042SelfTest(io);
  const seen = await eventually(
    () => trace().slice(before.length),
    (t) => t.some((e) => e[0] === "pckbd_kbd_write_command" && e[1] === 0xae),
  );
  expect(r).toMatchObject({ selfTest: 0x55, passed: true });
  expect(r.config).toBe(kernelConfig as number);
  i8042Config = r.config;
  expect(r.configRead).toBe(r.config | 0x10); // read with the keyboard interface disabled
  expect(r.configRestored).toBe(r.configRead);
  // What the controller received and answered, in order, and nothing else.
  expect(seen).toEqual([
    ["pckbd_kbd_write_command", 0xad],
    ["pckbd_kbd_write_command", 0x20],
    ["pckbd_kbd_read_data", r.configRead],
    ["pckbd_kbd_write_command", 0xaa],
    ["pckbd_kbd_read_data", 0x55],
    ["pckbd_kbd_write_command", 0x60],
    ["pckbd_kbd_write_data", r.configRead],
    ["pckbd_kbd_write_command", 0x20],
    ["pckbd_kbd_read_data", r.configRead],
    ["pckbd_kbd_write_command", 0xae],
  ]);
  // No answer raised IRQ 1, so the kernel's handler took none of them.
  expect(irq1()).toBe(irqBefore);
  io.release(0x60, 1);
  io.release(0x64, 1);
});

test("8042: readI8042Config alone reads the same byte, with the same handshake and nothing else (witness: QEMU's pckbd trace)", async () => {
  io.grant(0x60, 1);
  io.grant(0x64, 1);
  const before = trace().length;
  expect(readI8042Config(io)).toBe(i8042Config);
  const seen = await eventually(
    () => trace().slice(before),
    (t) => t.some((e) => e[0] === "pckbd_kbd_write_command" && e[1] === 0xae),
  );
  const read = i8042Config | 0x10;
  expect(seen).toEqual([
    ["pckbd_kbd_write_command", 0xad],
    ["pckbd_kbd_write_command", 0x20],
    ["pckbd_kbd_read_data", read],
    ["pckbd_kbd_write_command", 0x60],
    ["pckbd_kbd_write_data", read],
    ["pckbd_kbd_write_command", 0x20],
    ["pckbd_kbd_read_data", read],
    ["pckbd_kbd_write_command", 0xae],
  ]);
  io.release(0x60, 1);
  io.release(0x64, 1);
});

test("8042: the kernel's keyboard still works after: an LED request through evdev is sent and acknowledged over IRQ 1 (witness: QEMU's pckbd trace, /proc/interrupts)", async () => {
  insmod("input/evdev.ko");
  const event = await eventually(
    () => sh(["sh", "-c", "grep -l 'AT Translated Set 2 keyboard' /sys/class/input/event*/device/name"]).out.trim(),
    (p) => p !== "",
  );
  const dev = `/dev/input/${event.split("/")[4]}`;
  const before = trace().length;
  const irqBefore = irq1();
  const ev = Buffer.alloc(24); // struct input_event: EV_LED, LED_CAPSL, on
  ev.writeUInt16LE(0x11, 16);
  ev.writeUInt16LE(0x01, 18);
  ev.writeInt32LE(1, 20);
  const fd = await eventually(
    () => {
      try {
        return openSync(dev, "w");
      } catch {
        return -1;
      }
    },
    (f) => f >= 0,
  );
  writeSync(fd, ev);
  // atkbd sends 0xED, waits for the keyboard's 0xFA through IRQ 1, then sends the LED byte (caps lock: 0x04).
  const seen = await eventually(
    () => trace().slice(before),
    (t) => t.filter((e) => e[1] === 0xfa).length >= 2,
  );
  expect(seen).toEqual([
    ["pckbd_kbd_write_data", 0xed],
    ["pckbd_kbd_read_data", 0xfa],
    ["pckbd_kbd_write_data", 0x04],
    ["pckbd_kbd_read_data", 0xfa],
  ]);
  expect(irq1()).toBe(irqBefore + 2);
});

// ---- IPMI KCS -----------------------------------------------------------------------------------------------------

let library: ReturnType<typeof getDeviceId>;

test("KCS before any IPMI driver: /proc/ioports describes 0xCA2-0xCA3 (ACPI IPI0001:00), no driver holds it", () => {
  const owner = portOwner(ioportsClaims(), 0xca2, 2);
  expect(owner).toEqual({ driver: null, firmware: "IPI0001:00" });
});

test("KCS: Get Device ID and a raw request through the state machine; the error exit returns the interface to IDLE", () => {
  io.grant(0xca2, 2);
  expect(kcsStatus(io).state).toBe("IDLE");
  library = getDeviceId(io);
  expect(library.ipmiVersion).toBe("2.0");
  const raw = kcsRequest(io, 0x06, 0x01);
  expect(raw).toMatchObject({ netfn: 0x07, cmd: 0x01, completionCode: 0 });
  expect(raw.data[0]).toBe(library.deviceId);
  // An unknown command: the BMC answers it, with completion code 0xC1 (invalid command).
  expect(kcsRequest(io, 0x06, 0xf0).completionCode).toBe(0xc1);
  expect(kcsAbort(io)).toBe(0x01); // "aborted by command"
  expect(kcsStatus(io).state).toBe("IDLE");
});

test("KCS: an interface in its ERROR state gives ControllerError CONTROLLER_ERROR after the error exit, and the next request works", () => {
  io.outb(0xca3, 0x63); // a reserved control code: the BMC goes to ERROR
  expect(decodeKcsStatus(io.inb(0xca3)).state).toBe("ERROR");
  let caught: unknown;
  try {
    getDeviceId(io);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ControllerError);
  expect((caught as ControllerError).code).toBe("CONTROLLER_ERROR");
  expect((caught as ControllerError).message).toMatch(/error code 0x02 \(illegal control code\)/);
  expect(getDeviceId(io)).toEqual(library);
});

test("KCS: a base where nothing answers gives ControllerError TIMEOUT (IBF never clears on an empty bus)", () => {
  io.grant(0xcb2, 2);
  let caught: unknown;
  try {
    getDeviceId(io, { base: 0xcb2, timeoutUs: 2000 });
  } catch (e) {
    caught = e;
  }
  expect((caught as ControllerError).code).toBe("TIMEOUT");
  expect((caught as ControllerError).status).toBe(0xff);
  io.release(0xcb2, 2);
  io.release(0xca2, 2);
});

test("KCS: ioperm ipmi info --json, ipmi raw and examples/ipmi-info.ts give the library's answer", () => {
  const info = cli("ipmi", "info", "--json");
  expect(info.code).toBe(0);
  expect(JSON.parse(info.out)).toEqual(library);
  const raw = cli("ipmi", "raw", "0x06", "0x01");
  expect(raw.code).toBe(0);
  expect(
    raw.out
      .trim()
      .split(/\s+/)
      .map((b) => Number.parseInt(b, 16))[0],
  ).toBe(library.deviceId);
  expect(JSON.parse(example("ipmi-info"))).toEqual(library);
});

// ---- SMBus (PIIX4 on pc) ------------------------------------------------------------------------------------------

let scanned: number[] = [];

test("SMBus: the PIIX4 host found through PCI (00:01.3, 8086:7113, base from 0x90), a scan, SPD bytes, and a byte written to 0x57 (no driver bound)", () => {
  io.grant(0xcf8, 8);
  const { host, controller, owner } = SmbusHost.open(io, { claims: ioportsClaims() });
  expect(controller).toMatchObject({ kind: "piix4", bdf: "00:01.3", vendor: 0x8086, deviceId: 0x7113, enabled: true });
  expect(owner.driver).toBeNull();
  // The kernel's view of the base: the function's I/O resource in /sys (PIIX4's SMBus base is not a BAR; ACPI lists it).
  expect(ioportsClaims().some((c) => c.from === controller.base)).toBe(true);
  scanned = host.scan();
  expect(scanned.length).toBeGreaterThan(0);
  expect(host.readByte(0x50, 0x00)).toBe(0x00);
  expect(host.readWord(0x50, 0x00)).toBe(0x0000);
  host.writeByte(0x57, 0x10, 0xa5);
  expect(host.readByte(0x57, 0x10)).toBe(0xa5);
  let nack: unknown;
  try {
    host.readByte(0x12, 0);
  } catch (e) {
    nack = e;
  }
  expect((nack as ControllerError).code).toBe("NO_DEVICE");
  const json = cli("smbus", "scan", "--json");
  expect(json.code).toBe(0);
  expect(JSON.parse(json.out)).toMatchObject({ kind: "piix4", base: controller.base, addresses: scanned });
  const grid = cli("smbus", "scan");
  expect(grid.out).toBe(i2cdetectGrid(scanned));
  expect(cli("smbus", "get", "0x57", "0x10").out.trim()).toBe("0xa5");
  expect(cli("smbus", "get", "0x50", "0x00", "w").out.trim()).toBe("0x0000");
  const ex = JSON.parse(example("smbus-scan")) as { addresses: number[]; spd: { address: number; byte0: number }[] };
  expect(ex.addresses).toEqual(scanned);
  expect(ex.spd.map((s) => s.address)).toEqual(scanned.filter((a) => a >= 0x50 && a <= 0x57));
  io.release(0xcf8, 8);
});

// ---- the probe, before any driver ------------------------------------------------------------------------------

interface ControllersJson {
  kcs: { present: boolean; method: string; claimedBy: string | null; describedBy: string | null; device: unknown } | null;
  smbus: { method: string; claimedBy: string | null; addresses: number[] | null; controller: { kind: string; base: number } | null } | null;
  i8042: { present: boolean; method: string; claimedBy: string | null; selfTest: number | null; config: number | null } | null;
}
const probeControllers = (...args: string[]) => probe("--only", "kcs,smbus,i8042", ...args) as unknown as ControllersJson;

test("the probe finds the BMC (ACPI's description is no claim), the SMBus addresses, and the 8042 held by the kernel's keyboard driver", () => {
  const r = probeControllers();
  expect(r.kcs).toMatchObject({ present: true, method: "probe", claimedBy: null, describedBy: "IPI0001:00", device: library });
  expect(r.smbus).toMatchObject({ method: "probe", claimedBy: null, addresses: scanned, controller: { kind: "piix4" } });
  expect(r.i8042).toMatchObject({ present: true, method: "kernel", claimedBy: "keyboard", selfTest: null, config: null });
  // --force: the self-test runs, and the configuration byte is the kernel's (the trace witnessed it above).
  const forced = probeControllers("--force");
  expect(forced.i8042).toMatchObject({ present: true, method: "probe", claimedBy: "keyboard", selfTest: 0x55, config: i8042Config });
});

test("KCS answers equal ipmitool mc info through ipmi_si, loaded after; then the range is held by ipmi_si and refused (witness: ipmitool)", () => {
  insmod("char/ipmi/ipmi_msghandler.ko", "char/ipmi/ipmi_devintf.ko", "char/ipmi/ipmi_si.ko type=kcs ports=0xca2");
  const r = sh(["ipmitool", "mc", "info"]);
  expect(r.err).toBe("");
  const field = (k: string) => new RegExp(`^${k}\\s*: (.*)$`, "m").exec(r.out)?.[1]?.trim();
  expect({
    deviceId: Number(field("Device ID")),
    deviceRevision: Number(field("Device Revision")),
    firmwareRevision: field("Firmware Revision"),
    ipmiVersion: field("IPMI Version"),
    manufacturerId: Number(field("Manufacturer ID")),
    productId: Number(field("Product ID")?.split(" ")[0]),
    deviceAvailable: field("Device Available") === "yes",
    providesSdrs: field("Provides Device SDRs") === "yes",
  }).toEqual({
    deviceId: library.deviceId,
    deviceRevision: library.deviceRevision,
    firmwareRevision: library.firmwareRevision,
    ipmiVersion: library.ipmiVersion,
    manufacturerId: library.manufacturerId,
    productId: library.productId,
    deviceAvailable: library.deviceAvailable,
    providesSdrs: library.providesSdrs,
  });
  for (const s of library.additionalSupport) expect(r.out).toContain(`    ${s}\n`);
  expect(portOwner(ioportsClaims(), 0xca2, 2).driver).toBe("ipmi_si");
  const refused = cli("ipmi", "info");
  expect(refused.code).toBe(1);
  expect(refused.err).toMatch(/held by the kernel driver ipmi_si/);
});

test("SMBus scan and SPD bytes equal i2cdetect -y and i2cget -y through i2c-piix4, loaded after; then piix4_smbus holds the range and it is refused", () => {
  insmod("i2c/busses/i2c-piix4.ko", "i2c/i2c-dev.ko");
  const list = sh(["i2cdetect", "-l"]).out;
  const bus = /^i2c-(\d+)\s+smbus\s+SMBus PIIX4 adapter/m.exec(list)?.[1];
  expect(bus).toBeDefined();
  const detect = sh(["i2cdetect", "-y", bus ?? ""]);
  expect(detect.code).toBe(0);
  expect(parseI2cdetect(detect.out)).toEqual(scanned);
  expect(detect.out).toBe(i2cdetectGrid(scanned)); // the same grid, character for character
  expect(sh(["i2cget", "-y", bus ?? "", "0x50", "0x00"]).out.trim()).toBe("0x00");
  expect(sh(["i2cget", "-y", bus ?? "", "0x57", "0x10"]).out.trim()).toBe("0xa5"); // what the library wrote
  const refused = cli("smbus", "scan");
  expect(refused.code).toBe(1);
  expect(refused.err).toMatch(/held by the kernel driver piix4_smbus/);
  io.grant(0xcf8, 8);
  expect(() => SmbusHost.open(io, { claims: ioportsClaims() })).toThrow(/piix4_smbus/);
  io.release(0xcf8, 8);
});

test("the probe, with ipmi_si and i2c-piix4 bound: both reported from the kernel's view, neither range touched", () => {
  const r = probeControllers();
  expect(r.kcs).toMatchObject({ present: true, method: "kernel", claimedBy: "ipmi_si", describedBy: "IPI0001:00", device: null });
  expect(r.smbus).toMatchObject({ method: "kernel", claimedBy: "piix4_smbus", addresses: null });
});
