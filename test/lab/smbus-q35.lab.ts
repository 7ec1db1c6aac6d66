// The SMBus host of QEMU's q35 (ICH9, 8086:2930 at 00:1f.3, the i801 family):
// found through PCI (its base from BAR4, enabled in HOSTC), scanned and read
// without a driver, then checked against i2cdetect/i2cget through i2c-i801.
// Witnesses: the kernel's resource for BAR4 in /sys, i2c-tools through the driver.
// @lab-qemu -M q35
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { type ControllerError, i2cdetectGrid, parseI2cdetect, SmbusHost } from "../../lib/devices/index.ts";
import { open } from "../../lib/index.ts";
import { ioportsClaims } from "./witness.ts";

const io = open({ backend: "direct" });
afterAll(() => io.close());
const sh = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};
let scanned: number[] = [];

test("i801 on q35: found through PCI with the base the kernel gives BAR4, scanned, SPD byte read, a byte written to 0x57 (no driver bound)", () => {
  io.grant(0xcf8, 8);
  const { host, controller, owner } = SmbusHost.open(io, { claims: ioportsClaims() });
  // /sys/bus/pci/devices/*/resource: one "start end flags" line per BAR; BAR4 is the fifth.
  const bar4 = readFileSync("/sys/bus/pci/devices/0000:00:1f.3/resource", "utf8").split("\n")[4]?.split(" ")[0];
  expect(controller).toMatchObject({ kind: "i801", bdf: "00:1f.3", vendor: 0x8086, deviceId: 0x2930, enabled: true, base: Number(bar4) });
  expect(owner).toEqual({ driver: null, firmware: "0000:00:1f.3" });
  scanned = host.scan();
  expect(scanned.length).toBeGreaterThan(0);
  expect(host.readByte(0x50, 0x00)).toBe(0x00);
  host.writeByte(0x57, 0x20, 0x5a);
  expect(host.readWord(0x57, 0x20)).toBe(0x005a);
  let nack: unknown;
  try {
    host.quick(0x12) || host.readByte(0x12, 0);
  } catch (e) {
    nack = e;
  }
  expect((nack as ControllerError).code).toBe("NO_DEVICE");
  io.release();
});

test("i801 on q35: the scan and the bytes equal i2cdetect -y and i2cget -y through i2c-i801, loaded after; then i801_smbus holds the range and it is refused", () => {
  const m = `/lib/modules/${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}/kernel/drivers/i2c`;
  for (const k of ["i2c-smbus.ko", "busses/i2c-i801.ko", "i2c-dev.ko"]) expect(sh(["busybox", "insmod", `${m}/${k}`]).err).toBe("");
  const bus = /^i2c-(\d+)\s+smbus\s+SMBus I801 adapter/m.exec(sh(["i2cdetect", "-l"]).out)?.[1] ?? "";
  expect(bus).not.toBe("");
  const detect = sh(["i2cdetect", "-y", bus]);
  expect(parseI2cdetect(detect.out)).toEqual(scanned);
  expect(detect.out).toBe(i2cdetectGrid(scanned));
  expect(sh(["i2cget", "-y", bus, "0x50", "0x00"]).out.trim()).toBe("0x00");
  expect(sh(["i2cget", "-y", bus, "0x57", "0x20"]).out.trim()).toBe("0x5a");
  const refused = sh([process.execPath, "lib/cli.ts", "smbus", "scan"]);
  expect(refused.code).toBe(1);
  expect(refused.err).toMatch(/held by the kernel driver i801_smbus/);
});
