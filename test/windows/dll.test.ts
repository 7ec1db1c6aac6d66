// ioperm.dll through bun:ffi, inside Bun for Windows under Wine (bun.exe from
// npm, plus the ProcessPrng shim Wine 8 lacks). The steps run in
// test/windows/guest/ffi.ts; only paths that never execute in/out are here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { h, jsonLines, out, root, setUp, tearDown, unavailable, wine, winPath } from "./wine.ts";

let bunExe = "";
type Step = { step: string; rc: number | string; win32?: number; [k: string]: unknown };

function guest(...steps: string[]): Step[] {
  const r = wine(bunExe, [winPath(join(root, "test/windows/guest/ffi.ts")), winPath(out.dll), ...steps]);
  const got = jsonLines<Step>(r.lines);
  expect({ exit: r.code, steps: got.map((s) => s.step) }).toEqual({ exit: 0, steps });
  return got;
}

const installed = "C:\\windows\\system32\\drivers\\ioperm.sys";

describe.skipIf(unavailable !== null)(`ioperm.dll in bun.exe under Wine${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  beforeAll(() => {
    setUp();
    const r = Bun.spawnSync(["sh", join(root, "scripts/windows/bun-windows.sh")], { cwd: root, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`bun-windows.sh: ${r.stderr}`);
    bunExe = r.stdout.toString().trim();
  }, 300_000);
  afterAll(tearDown);

  test("bun:ffi -> ioperm.dll -> driver: version round trip", () => {
    const [v] = guest("version");
    expect(v!.rc).toBe(0);
    expect(v!.version).toEqual([h.IOPERM_PROTOCOL_VERSION, h.IOPERM_DRIVER_VERSION, h.IOPERM_CAP_PORT_IO, h.IOPERM_MAX_BATCH, 8, 64]);
  }, 60_000);

  test("grants: the allowlist refuses at grant time, ungranted ports never leave the process", () => {
    const [inb, refused, ok, all, release] = guest("inb=0x378", "grant=0x64,1", "grant=0x378,8", "grant-all", "release");
    expect(inb!.rc).toBe("not_granted");
    expect(refused).toMatchObject({ rc: "not_allowed", backend: 0, granted: 0 });
    expect(ok).toMatchObject({ rc: 0, backend: 3, granted: 1 }); // Backend.driver
    // grant-all = every allowlisted port, never 0x64 or PCI config.
    expect(all).toMatchObject({ rc: 0, backend: 3, granted: { 128: 1, 888: 1, 1016: 1, 100: 0, 3320: 0, 3321: 0 } });
    expect(release).toMatchObject({ rc: 0, backend: 0 });
  }, 60_000);

  test("batch: refused ops report their index and send nothing", () => {
    const [, notGranted, badWidth] = guest("grant=0x378,8", "batch=0x378:1:0,0x64:1:0", "batch=0x378:1:0,0x379:3:0");
    expect(notGranted).toMatchObject({ rc: "not_granted", index: 1 });
    expect(badWidth).toMatchObject({ rc: "bad_width", index: 1 });
  }, 60_000);

  test("SCM: status, uninstall, install through the DLL's exports", () => {
    const steps = guest("status", "uninstall", "status", "version", "uninstall", `install=${installed}`, "status", "version");
    expect(steps.map((s) => [s.step.split("=")[0], s.rc, s.win32])).toEqual([
      ["status", 4, 0], // SERVICE_RUNNING
      ["uninstall", 0, 0],
      ["status", "driver_not_installed", 1060], // ERROR_SERVICE_DOES_NOT_EXIST
      ["version", "driver_not_installed", 2], // \\.\ioperm is gone: the driver unloaded
      ["uninstall", "driver_not_installed", 1060],
      ["install", 0, 0],
      ["status", 4, 0],
      ["version", 0, 0],
    ]);
  }, 60_000);
});
