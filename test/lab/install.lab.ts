// The package as a user gets it, in the lab VM: the tarball from `npm run pack`
// installed into a new project outside the repo, with Bun alone on PATH (no
// Zig) and no network in the guest; and the single-file probe from
// `npm run compile`, copied alone into an empty directory.
// @lab-host-prepare bun scripts/pack.ts --out .cache/lab-pack && bun scripts/compile.ts --no-windows --out .cache/lab-pack
import { expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../lib/paths.ts";
import { tarballName } from "../../scripts/pack.ts";
import { eventually, hostFile, sysPciDevices } from "./witness.ts";
import { hexDigits } from "../../lib/format.ts";

const pack = join(packageRoot, ".cache", "lab-pack");
/** A PATH with Bun and the system's directories only: no Zig, no repo tools, no node_modules/.bin. */
const bunDir = mkdtempSync("/tmp/ioperm-bun-");
symlinkSync(process.execPath, join(bunDir, "bun"));
const env = { HOME: "/tmp", PATH: `${bunDir}:/usr/bin:/bin`, NO_COLOR: "1" };

const userScript = `import { open } from "ioperm";
using io = open();
io.grant(0x510, 2);
io.outw(0x510, 0);
const sig = new TextDecoder().decode(io.readInto(0x511, new Uint8Array(4)));
const firstRead = Date.now();
io.grant(0x378, 3);
const sent = Number(process.argv[2]);
io.outb(0x378, sent);
const back = io.inb(0x378);
io.outb(0x37a, 0x0c); io.outb(0x37a, 0x0d); io.outb(0x37a, 0x0c); // strobe
console.log(JSON.stringify({ sig, back, firstRead }));
`;

test("bun add of the packed tarball, offline, then a script reads fw_cfg and drives LPT1 (witnesses: DMI sys_vendor, the host LPT file)", async () => {
  const project = mkdtempSync("/tmp/ioperm-user-");
  writeFileSync(join(project, "package.json"), '{ "name": "rig", "private": true }\n');
  writeFileSync(join(project, "rig.ts"), userScript);
  const t0 = Date.now();
  const add = Bun.spawnSync(["bun", "add", join(pack, tarballName())], { cwd: project, env, stdout: "pipe", stderr: "pipe" });
  expect(add.exitCode, add.stderr.toString()).toBe(0);
  expect(Bun.spawnSync(["sh", "-c", "command -v zig"], { env }).exitCode).not.toBe(0);
  const before = hostFile("lpt1").length;
  const run = Bun.spawnSync(["bun", "rig.ts", "0xb4"], { cwd: project, env, stdout: "pipe", stderr: "pipe" });
  expect(run.exitCode, run.stderr.toString()).toBe(0);
  const out = JSON.parse(run.stdout.toString()) as { sig: string; back: number; firstRead: number };
  console.log(`install.lab: from bun add to the first port read: ${((out.firstRead - t0) / 1000).toFixed(2)} s`);
  expect(out.sig).toBe("QEMU");
  expect(readFileSync("/sys/class/dmi/id/sys_vendor", "utf8")).toContain("QEMU");
  expect(out.back).toBe(0xb4);
  const file = await eventually(
    () => hostFile("lpt1"),
    (f) => f.length > before,
  );
  expect([...file.subarray(before)]).toEqual([0xb4]);
  // The library came from the installed package's prebuilt binary, not the repo's build.
  const which = Bun.spawnSync(["bun", "-e", 'import { libraryPath } from "ioperm"; console.log(libraryPath())'], {
    cwd: project,
    env,
    stdout: "pipe",
  });
  expect(which.stdout.toString().trim()).toBe(join(project, "node_modules/ioperm/prebuilt/linux-x64/libioperm.so"));
  // The package's commands through bunx: the probe (fw_cfg's signature again) and the driver command's refusal off Windows.
  const probe = Bun.spawnSync(["bun", "x", "ioperm", "probe", "--json", "--only", "fwcfg"], {
    cwd: project,
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(probe.exitCode, probe.stderr.toString()).toBe(0);
  expect(JSON.parse(probe.stdout.toString()).fwcfg.info.signature).toBe("QEMU");
  const driver = Bun.spawnSync(["bun", "x", "ioperm", "driver", "status"], { cwd: project, env, stdout: "pipe", stderr: "pipe" });
  expect({ exit: driver.exitCode, err: driver.stderr.toString().trim() }).toEqual({
    exit: 1,
    err: "ioperm driver status: driverStatus(): not supported on linux (the driver is Windows-only)",
  });
});

test("the compiled probe alone in an empty directory finds LPT1 and the guest's PCI functions (witness: /sys/bus/pci/devices)", () => {
  const dir = mkdtempSync("/tmp/ioperm-exe-");
  copyFileSync(join(pack, "ioperm-probe"), join(dir, "ioperm-probe"));
  Bun.spawnSync(["chmod", "+x", join(dir, "ioperm-probe")]);
  const r = Bun.spawnSync(["./ioperm-probe", "--json", "--only", "lpt,pci"], {
    cwd: dir,
    env: { HOME: "/tmp", PATH: "/usr/bin:/bin" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  const doc = JSON.parse(r.stdout.toString()) as {
    lpt: { base: number; present: boolean }[];
    pci: { functions: { bdf: string; vendor: number; deviceId: number }[] };
  };
  expect(doc.lpt.find((l) => l.base === 0x378)?.present).toBe(true);
  const h4 = (n: number) => hexDigits(n, 4);
  expect(doc.pci.functions.map((f) => `${f.bdf} ${h4(f.vendor)}:${h4(f.deviceId)}`).sort()).toEqual(sysPciDevices());
});

test("a rig that imports only ioperm, built with bun build --compile and copied alone into an empty directory, drives LPT1 (witnesses: the host LPT file, fw_cfg's signature)", async () => {
  const project = mkdtempSync("/tmp/ioperm-user-");
  writeFileSync(join(project, "package.json"), '{ "name": "rig", "private": true }\n');
  writeFileSync(join(project, "rig.ts"), userScript);
  const add = Bun.spawnSync(["bun", "add", join(pack, tarballName())], { cwd: project, env, stdout: "pipe", stderr: "pipe" });
  expect(add.exitCode, add.stderr.toString()).toBe(0);
  const dir = mkdtempSync("/tmp/ioperm-rig-exe-");
  const built = Bun.spawnSync(["bun", "build", "--compile", "rig.ts", "--outfile", join(dir, "rig")], {
    cwd: project,
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(built.exitCode, built.stderr.toString()).toBe(0);
  const before = hostFile("lpt1").length;
  const run = Bun.spawnSync(["./rig", "0x5c"], { cwd: dir, env: { HOME: "/tmp", PATH: "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe" });
  expect(run.exitCode, run.stderr.toString()).toBe(0);
  const out = JSON.parse(run.stdout.toString()) as { sig: string; back: number };
  expect(out.sig).toBe("QEMU");
  expect(out.back).toBe(0x5c);
  const file = await eventually(
    () => hostFile("lpt1"),
    (f) => f.length > before,
  );
  expect([...file.subarray(before)]).toEqual([0x5c]);
});
