// The bus locks on Windows are the named mutexes HWiNFO, AIDA64 and
// LibreHardwareMonitor take (zig/src/buslock.zig): under Wine, bun.exe
// processes contend for them through ioperm.dll (test/windows/guest/lock.ts),
// witnessed by the order of characters in one file.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bunWindowsExe, jsonLines, out, root, setUp, tearDown, wine, winPath } from "./wine.ts";

let bunExe = "";
const dir = mkdtempSync(join(root, ".cache", "windows", "lock-"));
beforeAll(() => {
  mkdirSync(dir, { recursive: true });
  setUp();
  bunExe = bunWindowsExe();
}, 300_000);
afterAll(() => {
  tearDown();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

test("two bun.exe processes under the same mutex write whole; on two mutexes they interleave; a killed holder's mutex is taken at once", () => {
  const r = wine(bunExe, [winPath(join(root, "test/windows/guest/lock.ts")), winPath(out.dll), winPath(dir)], {
    IOPERM_WINE_TIMEOUT: "240",
  });
  const steps = Object.fromEntries(jsonLines<{ step: string; [k: string]: unknown }>(r.lines).map((s) => [s.step, s]));
  expect(r.code).toBe(0);
  const a = "A".repeat(30);
  const b = "B".repeat(30);
  expect([`${a}${b}`, `${b}${a}`]).toContain(String(steps["same-bus"]?.file));
  const apart = String(steps["different-buses"]?.file);
  // Unsynchronised appends under Wine can even lose a character: more evidence they overlapped.
  expect(apart.length).toBeGreaterThan(50);
  expect(apart).toMatch(/A+B+A|B+A+B/);
  expect([`${a}${b}`, `${b}${a}`]).not.toContain(apart);
  expect(steps["holder-killed"]).toMatchObject({
    held: '{"ok":true,"held":true}',
    refused: { ok: false, code: "LOCK_TIMEOUT" },
    after: '{"ok":true}',
    file: "AC",
  });
  expect(String((steps["holder-killed"]?.refused as { message?: string } | undefined)?.message)).toContain(
    "Global\\Access_ISABUS.HTP.Method",
  );
}, 300_000);
