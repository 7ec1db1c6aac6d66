// @lab-machine server
// The server machine profile (lib/lab/machine.ts) and modprobe in the guest.
// Witnesses: the guest kernel's /proc/ioports (what ACPI and drivers claim) and
// /proc/modules (what is loaded).
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";

const ioports = () => readFileSync("/proc/ioports", "utf8");
const loaded = () =>
  readFileSync("/proc/modules", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[0]);

test("--machine server has a BMC on KCS: /proc/ioports lists 0ca2-0ca3 under ACPI's IPI0001 before any IPMI driver", () => {
  expect(loaded()).not.toContain("ipmi_si");
  expect(ioports()).toMatch(/^ {2}0ca2-0ca3 : IPI0001:00$/m);
});

test("modprobe loads a driver and its dependencies by name (modules.dep), and ipmi_si binds the profile's BMC", () => {
  const r = Bun.spawnSync(["modprobe", "ipmi_si"], { stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  expect(loaded()).toEqual(expect.arrayContaining(["ipmi_si", "ipmi_msghandler"]));
  expect(ioports()).toMatch(/^ {6}0ca2-0ca2 : ipmi_si$/m);
});
