// Host unit tests of the controller modules' pure logic: KCS status decoding
// and the write phase's steps, IPMI response and Get Device ID parsing, the
// i2cdetect grid (rendered and read back), /proc/ioports owners told apart
// (driver or firmware description), the 8042 configuration byte, and the
// chunking of long handshakes under the batch caps. Port I/O itself is tested
// in the lab (test/lab/controllers.lab.ts).
import { expect, test } from "bun:test";
import { MAX_CALL_US, ops } from "../lib/batch.ts";
import {
  ControllerError,
  decodeI8042Config,
  decodeKcsStatus,
  i2cdetectGrid,
  isDescription,
  kcsWriteSteps,
  parseDeviceId,
  parseI2cdetect,
  parseIoports,
  parseIpmiResponse,
  portOwner,
  runSteps,
} from "../lib/devices/index.ts";
import { IopermError, type Ioperm } from "../lib/index.ts";

test("decodeKcsStatus: the state in bits 7:6 and the flags", () => {
  expect(decodeKcsStatus(0x00)).toEqual({ state: "IDLE", obf: false, ibf: false, smsAtn: false, cd: false, raw: 0 });
  expect(decodeKcsStatus(0x43).state).toBe("READ");
  expect(decodeKcsStatus(0x8a)).toMatchObject({ state: "WRITE", ibf: true, cd: true, obf: false });
  expect(decodeKcsStatus(0xc4)).toMatchObject({ state: "ERROR", smsAtn: true });
  expect(decodeKcsStatus(0xff)).toMatchObject({ state: "ERROR", obf: true, ibf: true }); // an empty bus
});

test("kcsWriteSteps: WRITE_START, the bytes, WRITE_END before the last byte; each write waited on for IBF clear in WRITE", () => {
  const checks: number[] = [];
  const steps = kcsWriteSteps([0x18, 0x01], 0xca2, 0xca3, 1000, checks);
  const writes = steps.filter((s) => s.step === undefined && s.write).map((s) => (s.step === undefined ? [s.port, s.value] : []));
  expect(writes).toEqual([
    [0xca3, 0x61],
    [0xca2, 0x18],
    [0xca3, 0x62],
    [0xca2, 0x01],
  ]);
  const waits = steps.filter((s) => s.step === "wait");
  // The first waits only for IBF; the rest also for the WRITE state, so a change to ERROR stops the batch there.
  expect(waits.map((w) => (w.step === "wait" ? [w.mask, w.expect] : []))).toEqual([
    [0x02, 0x00],
    [0xc2, 0x80],
    [0xc2, 0x80],
    [0xc2, 0x80],
  ]);
  expect(checks.map((i) => steps[i])).toEqual([ops.inb(0xca3), ops.inb(0xca3), ops.inb(0xca3)]);
});

test("parseIpmiResponse splits NetFn/LUN, command, completion code and data, and refuses another request's answer", () => {
  expect(parseIpmiResponse([0x1c, 0x01, 0x00, 0x20, 0x01], 0x06, 0x01)).toEqual({
    netfn: 0x07,
    lun: 0,
    cmd: 0x01,
    completionCode: 0,
    data: [0x20, 0x01],
  });
  expect(() => parseIpmiResponse([0x1c, 0x02, 0x00], 0x06, 0x01)).toThrow(ControllerError);
  expect(() => parseIpmiResponse([0x1c], 0x06, 0x01)).toThrow(/at least NetFn, command and completion code/);
});

test("parseDeviceId reads the fields as ipmitool mc info prints them", () => {
  // A Dell-like answer: device 0x20 rev 1 with SDRs, firmware 2.83 (BCD minor), IPMI 2.0, support 0xBF, IANA 674, product 0x0100, aux.
  const id = parseDeviceId([0x20, 0x81, 0x02, 0x83, 0x02, 0xbf, 0xa2, 0x02, 0x00, 0x00, 0x01, 0x00, 0x1e, 0x00, 0x00]);
  expect(id).toEqual({
    deviceId: 0x20,
    deviceRevision: 1,
    providesSdrs: true,
    firmwareRevision: "2.83",
    deviceAvailable: true,
    ipmiVersion: "2.0",
    additionalSupport: [
      "Sensor Device",
      "SDR Repository Device",
      "SEL Device",
      "FRU Inventory Device",
      "IPMB Event Receiver",
      "IPMB Event Generator",
      "Chassis Device",
    ],
    manufacturerId: 674,
    productId: 0x0100,
    auxFirmwareRevision: [0x00, 0x1e, 0x00, 0x00],
  });
  // IPMI 1.5 is 0x51 (minor in the high nibble); bit 7 of byte 2 means an update in progress.
  expect(parseDeviceId([0, 0, 0x81, 0x05, 0x51, 0, 0, 0, 0, 0, 0])).toMatchObject({
    ipmiVersion: "1.5",
    firmwareRevision: "1.05",
    deviceAvailable: false,
    auxFirmwareRevision: null,
  });
  expect(() => parseDeviceId([0x20])).toThrow(/11 are expected/);
});

const I2CDETECT = `     0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f
00:                         -- -- -- -- -- -- -- -- 
10: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- 
20: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- 
30: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- 
40: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- 
50: 50 51 52 53 54 55 56 57 -- -- -- -- -- -- -- -- 
60: -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- -- 
70: -- -- -- -- -- -- -- --                         
`;

test("i2cdetectGrid renders i2cdetect -y's grid exactly (its output in QEMU's pc, trailing spaces included), and parseI2cdetect reads it back", () => {
  const found = [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57];
  expect(i2cdetectGrid(found)).toBe(I2CDETECT);
  expect(parseI2cdetect(I2CDETECT)).toEqual(found);
  expect(parseI2cdetect(I2CDETECT.replace("-- -- -- -- -- -- -- -- \n20", "-- -- -- -- -- UU -- -- \n20"))).toEqual([0x1d, ...found]);
  expect(i2cdetectGrid([0x03], 0x03, 0x77).split("\n")[1]).toBe("00:          03 -- -- -- -- -- -- -- -- -- -- -- -- ");
});

const IOPORTS = `0000-0cf7 : PCI Bus 0000:00
  0060-0060 : keyboard
  0600-063f : 0000:00:01.3
    0600-0603 : ACPI PM1a_EVT_BLK
  0700-070f : 0000:00:01.3
    0700-0708 : piix4_smbus
  0ca2-0ca3 : IPI0001:00
    0ca2-0ca2 : IPMI Address 1
      0ca2-0ca2 : IPMI Address 1
        0ca2-0ca2 : ipmi_si
    0ca3-0ca3 : IPMI Address 2
0d00-ffff : PCI Bus 0000:00
  a000-a01f : 0000:00:1f.3
`;

test("portOwner tells a bound driver from a firmware description (the lab's /proc/ioports before and after ipmi_si)", () => {
  const claims = parseIoports(IOPORTS);
  expect(portOwner(claims, 0xca2, 2)).toEqual({ driver: "ipmi_si", firmware: "IPI0001:00" });
  const before = parseIoports(IOPORTS.replace(/ {8}0ca2-0ca2 : ipmi_si\n/, ""));
  expect(portOwner(before, 0xca2, 2)).toEqual({ driver: null, firmware: "IPI0001:00" });
  expect(portOwner(claims, 0x700, 16)).toEqual({ driver: "piix4_smbus", firmware: "0000:00:01.3" });
  expect(portOwner(claims, 0xa000, 32)).toEqual({ driver: null, firmware: "0000:00:1f.3" });
  expect(portOwner(claims, 0x60, 1)).toEqual({ driver: "keyboard", firmware: null });
  for (const n of ["IPI0001:00", "PNP0C09:00", "pnp 00:05", "ACPI PM_TMR", "IPMI Address 2", "0000:00:1f.3", "PCI Bus 0000:00"])
    expect({ n, d: isDescription(n) }).toEqual({ n, d: true });
  for (const n of ["ipmi_si", "piix4_smbus", "i801_smbus", "keyboard", "serial", "parport0", "fw_cfg_io"])
    expect({ n, d: isDescription(n) }).toEqual({ n, d: false });
});

test("decodeI8042Config names the bits of the configuration byte", () => {
  expect(decodeI8042Config(0x47)).toEqual({
    keyboardInterrupt: true,
    auxInterrupt: true,
    systemFlag: true,
    keyboardDisabled: false,
    auxDisabled: false,
    translate: true,
    raw: 0x47,
  });
  expect(decodeI8042Config(0x30)).toMatchObject({ keyboardDisabled: true, auxDisabled: true, keyboardInterrupt: false });
});

/** Records each batch it is given; a stand-in for the handle that only the chunking logic sees. */
function recorder(fail?: { call: number; index: number; value: number }) {
  const calls: number[] = [];
  const io = {
    batch(list: readonly unknown[]) {
      calls.push(list.length);
      if (fail && calls.length === fail.call)
        throw new IopermError("TIMEOUT", "timed out", { op: `batch[${fail.index}]`, index: fail.index, value: fail.value });
      return list.map(() => 7);
    },
  } as unknown as Ioperm;
  return { io, calls };
}

test("runSteps runs a handshake as one batch while its waits fit MAX_CALL_US, and splits it in order when they do not", () => {
  const short = recorder();
  const steps = [ops.outb(0x80, 1), ops.wait(0x81, 1, 1, 100_000), ops.inb(0x80)];
  expect(runSteps(short.io, steps, "x", () => "")).toEqual([7, 7, 7]);
  expect(short.calls).toEqual([3]);
  const long = recorder();
  const many = Array.from({ length: 12 }, () => ops.wait(0x81, 1, 1, 100_000)); // 1.2 s declared
  expect(runSteps(long.io, many, "x", () => "")).toHaveLength(12);
  expect(long.calls).toEqual([MAX_CALL_US / 100_000, 12 - MAX_CALL_US / 100_000]);
});

test("runSteps turns a wait's TIMEOUT into ControllerError TIMEOUT with the last status and the step's place in the whole list", () => {
  const { io } = recorder({ call: 2, index: 1, value: 0xc2 });
  const many = Array.from({ length: 12 }, () => ops.wait(0x81, 1, 1, 100_000));
  let caught: unknown;
  try {
    runSteps(io, many, "kcs", (i) => `at step ${i}`);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ControllerError);
  expect(caught).toMatchObject({ code: "TIMEOUT", controller: "kcs", status: 0xc2 });
  expect((caught as Error).message).toContain("at step 11"); // 10 in the first batch, then index 1 of the second
  expect((caught as Error).cause).toBeInstanceOf(IopermError);
});

test("ioperm ipmi and smbus: usage errors exit 64 before any port I/O, with the usage", async () => {
  const { main } = await import("../lib/cli.ts");
  const errors: string[] = [];
  const err = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    expect(await main(["ipmi"])).toBe(64);
    expect(await main(["ipmi", "raw", "0x40", "0x01"])).toBe(64); // NetFn is 6 bits
    expect(await main(["ipmi", "raw", "0x06", "zz"])).toBe(64);
    expect(await main(["ipmi", "info", "extra"])).toBe(64);
    expect(await main(["smbus", "get", "0x50"])).toBe(64);
    expect(await main(["smbus", "get", "0x50", "0x00", "q"])).toBe(64);
    expect(await main(["smbus", "get", "0x78", "0x00"])).toBe(64); // 7-bit, reserved addresses excluded
    expect(await main(["smbus", "scan", "--bogus"])).toBe(64);
  } finally {
    console.error = err;
  }
  expect(errors[1]).toContain("NETFN must be 0x00..0x3f");
  expect(errors[2]).toContain("CMD must be a hex byte");
  expect(errors[6]).toContain("ADDR must be 0x03..0x77");
  expect(errors.every((e) => e.includes("usage: ioperm"))).toBe(true);
});
