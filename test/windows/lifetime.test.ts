// The device handle's lifetime in ioperm.dll, under Wine (x64): closing it
// (uninstallDriver) clears every thread's grant mirror through the generation
// the mirrors are checked against (zig/src/windows.zig `thread`). The x86 IOPM
// path shares that code and the holder count's lock (zig/src/windows/device.zig);
// it is compiled here, never run: Wine runs the x64 driver only.
// Witness that a stale mirror never reaches the driver: a real inb(0x378) would
// run `in` in winedevice, which has no iopl on this host and dies, so the
// worker would get DRIVER_IO, not NOT_GRANTED.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { bunWindowsExe, h, jsonLines, out, root, setUp, tearDown, wine, winPath } from "./wine.ts";

let bunExe = "";
beforeAll(() => {
  setUp();
  bunExe = bunWindowsExe();
}, 300_000);
afterAll(tearDown, 120_000); // Wine may take a while to end on a loaded machine

test("closing the device clears every thread's grants, the worker's too: its inb is NOT_GRANTED, never sent", () => {
  const r = wine(bunExe, [winPath(join(root, "test/windows/guest/close.ts")), winPath(out.dll), winPath(out.driver)]);
  const steps = jsonLines<{ step: string; [k: string]: unknown }>(r.lines);
  expect({ exit: r.code, steps: steps.map((s) => s.step) }).toEqual({
    exit: 0,
    steps: ["worker-grant", "main-after-uninstall", "main-version", "worker-check"],
  });
  const [grant, main, version, check] = steps;
  expect(grant).toMatchObject({ granted: true, grants: { backend: "driver" } });
  expect(main).toMatchObject({ granted: false, grants: { backend: "none" } });
  expect(version).toMatchObject({ protocol: h.IOPERM_PROTOCOL_VERSION });
  expect(check).toMatchObject({ granted: false, grants: { backend: "none" }, inb: "NOT_GRANTED" });
}, 120_000);
