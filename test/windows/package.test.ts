// The installed package on Windows, under Wine: a project whose
// node_modules/ioperm is the packed tarball, run by bun.exe. The library must
// come from the package's prebuilt/win32-x64/ioperm.dll, not from the build
// output, and reach the driver (a VERSION round trip, which runs no in/out).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tarballName } from "../../scripts/pack.ts";
import { bunWindowsExe, h, jsonLines, root, setUp, tearDown, wine, winPath } from "./wine.ts";

const project = mkdtempSync(join(root, ".cache", "windows", "user-"));
let bunExe = "";

describe("the packed package in bun.exe under Wine", () => {
  beforeAll(() => {
    setUp();
    bunExe = bunWindowsExe();
    const p = Bun.spawnSync([process.execPath, "scripts/pack.ts", "--out", join(project, "dist")], {
      cwd: root,
      stdout: "pipe",
      stderr: "pipe",
    });
    if (p.exitCode !== 0) throw new Error(`pack: ${p.stderr}`);
    const pkg = join(project, "node_modules", "ioperm");
    mkdirSync(pkg, { recursive: true });
    const x = Bun.spawnSync(["tar", "xzf", join(project, "dist", tarballName()), "-C", pkg, "--strip-components=1"]);
    if (x.exitCode !== 0) throw new Error("tar failed");
    writeFileSync(
      join(project, "package.json"),
      `${JSON.stringify({ name: "rig", private: true, dependencies: { ioperm: tarballName().replace(/^ioperm-|\.tgz$/g, "") } })}\n`,
    );
    writeFileSync(
      join(project, "check.ts"),
      'import { driverVersion, libraryPath, open } from "ioperm";\nopen().close();\nconsole.log(JSON.stringify({ path: libraryPath(), protocol: driverVersion().protocol }));\n',
    );
  }, 300_000);
  afterAll(() => {
    tearDown();
    rmSync(project, { recursive: true, force: true });
  }, 120_000);

  test("ioperm.dll is loaded from node_modules/ioperm/prebuilt/win32-x64 and answers the driver", () => {
    const r = wine(bunExe, [winPath(join(project, "check.ts"))]);
    const [got] = jsonLines<{ path: string; protocol: number }>(r.lines);
    expect(r.code).toBe(0);
    expect(got?.path.replaceAll("\\", "/").toLowerCase()).toBe(
      `z:${join(project, "node_modules/ioperm/prebuilt/win32-x64/ioperm.dll")}`.toLowerCase(),
    );
    expect(got?.protocol).toBe(h.IOPERM_PROTOCOL_VERSION);
  });
});
