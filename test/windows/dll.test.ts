// The TypeScript API inside Bun for Windows under Wine (bun.exe from npm, plus
// the ProcessPrng shim Wine 8 lacks): lib/ -> bun:ffi -> ioperm.dll -> driver.
// The steps run in test/windows/guest/api.ts; only paths that never execute in/out are here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  bunWindowsExe,
  denylist,
  h,
  installDriver as reinstallAutoStart,
  jsonLines,
  out,
  persistentSession,
  root,
  setUp,
  tearDown,
  wine,
  winePrefix,
  winPath,
} from "./wine.ts";

let bunExe = "";
type Step = { step: string; rc: number | string; win32?: number; [k: string]: unknown };

function guest(...steps: string[]): Step[] {
  const r = wine(bunExe, [winPath(join(root, "test/windows/guest/api.ts")), winPath(out.dll), ...steps]);
  const got = jsonLines<Step>(r.lines).filter((s) => !s.step.endsWith(":state"));
  expect({ exit: r.code, steps: got.map((s) => s.step) }).toEqual({ exit: 0, steps });
  return got;
}

/** scripts/windows/wine.sh with these arguments (e.g. set-allowlist), which must succeed. */
function wineSh(...args: string[]): void {
  const r = Bun.spawnSync([join(root, "scripts/windows/wine.sh"), ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode, `wine.sh ${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(0);
}

/** The ":state" lines a grant step prints whether or not it succeeded. */
function states(...steps: string[]): Step[] {
  const r = wine(bunExe, [winPath(join(root, "test/windows/guest/api.ts")), winPath(out.dll), ...steps]);
  return jsonLines<Step>(r.lines).filter((s) => s.step.endsWith(":state"));
}

// installDriver copies from here into System32\drivers (and uninstallDriver removes that copy).
const installed = winPath(out.driver);

describe("the TypeScript API in bun.exe under Wine", () => {
  beforeAll(() => {
    setUp();
    bunExe = bunWindowsExe();
  }, 300_000);
  afterAll(tearDown, 120_000); // Wine may take a while to end on a loaded machine

  test("lib -> bun:ffi -> ioperm.dll -> driver: version round trip", () => {
    const [v] = guest("version");
    expect(v!.rc).toBe(0);
    expect(v!.version).toEqual({
      protocol: h.IOPERM_PROTOCOL_VERSION,
      driverVersion: h.IOPERM_DRIVER_VERSION,
      capabilities: h.IOPERM_CAP_PORT_IO! | h.IOPERM_CAP_PCI_READ! | h.IOPERM_CAP_TIMED_STEPS!,
      maxBatch: h.IOPERM_MAX_BATCH,
      opSize: 8,
      pointerBits: 64,
    });
  }, 60_000);

  test("grants: the allowlist refuses at grant time with the typed error; ungranted ports never leave the process", () => {
    const [inb, refused, ok, all, release] = guest("inb=0x378", "grant=0x64,1", "grant=0x378,8", "grant-all", "release");
    expect(inb!.rc).toBe("NOT_GRANTED");
    expect(refused!.rc).toBe("NOT_ALLOWED");
    expect(String(refused!.message)).toContain("AllowedPorts");
    expect(ok!.rc).toBe(0);
    // grant-all = every allowlisted port, never 0x64 or PCI config.
    expect(all).toMatchObject({
      rc: 0,
      grants: { backend: "driver", all: false },
      granted: { 128: true, 888: true, 1016: true, 100: false, 3320: false, 3321: false },
    });
    expect(release).toMatchObject({ rc: 0, grants: { backend: "none", all: false } });
    const [refusedState, okState] = states("grant=0x64,1", "grant=0x378,8");
    expect(refusedState).toMatchObject({ grants: { backend: "none" }, granted: false });
    expect(okState).toMatchObject({ grants: { backend: "driver" }, granted: true });
  }, 60_000);

  test("batch: a refused op is reported by index and nothing is sent; a bad width never reaches the DLL", () => {
    const [, notGranted, badWidth] = guest("grant=0x378,8", "batch-inb=0x378,0x64", "batch-width");
    expect(notGranted).toMatchObject({ rc: "NOT_GRANTED" });
    expect(String(notGranted!.message)).toMatch(/^batch\[1\]\(0x64\)/);
    expect(badWidth).toMatchObject({ rc: "RangeError" });
    expect(String(badWidth!.message)).toContain("batch op 0");
  }, 60_000);

  test("timed steps through the DLL: over the call cap TOO_LONG, a wait on an ungranted port NOT_GRANTED by index, delays run in the driver", () => {
    const [over, wait, delays] = guest("batch-timed=over", "batch-timed=wait", "batch-timed=delays");
    expect(over).toMatchObject({ rc: "TOO_LONG", index: 10 });
    expect(wait).toMatchObject({ rc: "NOT_GRANTED", index: 1 });
    expect(String(wait!.message)).toMatch(/^batch\[1\]\(0x64\)/);
    expect(delays).toMatchObject({ rc: 0, values: [0, 0] });
  }, 60_000);

  test("SCM: status, uninstall, install through installDriver()/uninstallDriver()/driverStatus()", () => {
    const steps = guest("status", "uninstall", "status", "version", "uninstall", `install=${installed}`, "status", "version");
    expect(steps.map((s) => [s.step.split("=")[0], s.rc, s.state ?? s.errno ?? null])).toEqual([
      ["status", 0, "running"],
      ["uninstall", 0, null],
      ["status", 0, "not-installed"],
      ["version", "DRIVER_NOT_INSTALLED", 2], // \\.\\ioperm is gone: ERROR_FILE_NOT_FOUND
      ["uninstall", "DRIVER_NOT_INSTALLED", 1060], // ERROR_SERVICE_DOES_NOT_EXIST
      ["install", 0, null],
      ["status", 0, "running"],
      ["version", 0, null],
    ]);
  }, 60_000);

  test("installDriver() refuses a driver another handle holds open for writing (the source is opened with write sharing denied): DRIVER_MISMATCH with the sharing violation, nothing installed", () => {
    const source = join(root, ".cache/windows/tmp/held-ioperm.sys");
    copyFileSync(out.driver, source);
    const steps = guest("uninstall", `install-held=${winPath(source)}`, "status", `install=${winPath(source)}`, "status");
    expect(steps.map((s) => [s.step.split("=")[0], s.rc, s.state ?? s.errno ?? null])).toEqual([
      ["uninstall", 0, null],
      ["install-held", "DRIVER_MISMATCH", 32], // ERROR_SHARING_VIOLATION
      ["status", 0, "not-installed"],
      ["install", 0, null],
      ["status", 0, "running"],
    ]);
    // Back to the auto-start service setUp made: a demand-start one stops with this session.
    reinstallAutoStart();
  }, 60_000);

  test("CLI: `ioperm driver status|version` from bun.exe, with the DLL found at its built path", () => {
    const cli = winPath(join(root, "lib/cli.ts"));
    const status = wine(bunExe, [cli, "driver", "status"]);
    expect({ code: status.code, out: status.lines.filter((l) => !l.includes("Internal error")) }).toEqual({ code: 0, out: ["running"] });
    const version = wine(bunExe, [cli, "driver", "version"]);
    expect(version.code).toBe(0);
    expect(JSON.parse(version.lines.find((l) => l.startsWith("{")) ?? "{}")).toMatchObject({ protocol: h.IOPERM_PROTOCOL_VERSION });
  }, 60_000);

  test("CLI: `ioperm driver install PATH` copies the driver into System32\\drivers and registers the copy; `uninstall` removes it (witnesses: ImagePath in the registry, the prefix's files)", () => {
    const cli = winPath(join(root, "lib/cli.ts"));
    // A demand-start service would otherwise stop with the session between commands.
    persistentSession();
    const say = (...args: string[]) => {
      const r = wine(bunExe, [cli, "driver", ...args]);
      return { code: r.code, out: r.lines.filter((l) => !l.includes("Internal error")) };
    };
    expect(say("uninstall")).toEqual({ code: 0, out: ["uninstalled service ioperm"] });
    expect(say("status")).toEqual({ code: 0, out: ["not-installed"] });
    expect(say("uninstall").code).toBe(1); // nothing to uninstall: a typed error, exit 1
    // Installed from a copy of the build output, which the test then overwrites: what the kernel loads must not change.
    const source = join(root, ".cache/windows/tmp/user-writable-ioperm.sys");
    copyFileSync(out.driver, source);
    const installed = say("install", winPath(source));
    expect(installed.code).toBe(0);
    const sha = new Bun.CryptoHasher("sha256").update(readFileSync(out.driver)).digest("hex");
    expect(installed.out.join("\n")).toContain(
      `as C:\\windows\\System32\\drivers\\ioperm.sys (sha256 ${sha}), service ioperm (demand start); state: running`,
    );
    expect(say("status")).toEqual({ code: 0, out: ["running"] });
    const imagePath = wine("reg", ["query", "HKLM\\System\\CurrentControlSet\\Services\\ioperm", "/v", "ImagePath"]).lines.join("\n");
    expect(imagePath.toLowerCase()).toContain("system32\\drivers\\ioperm.sys");
    expect(imagePath.toLowerCase()).not.toContain("user-writable");
    const inPrefix = join(winePrefix, "drive_c/windows/system32/drivers/ioperm.sys");
    expect(Buffer.compare(readFileSync(inPrefix), readFileSync(out.driver))).toBe(0);
    writeFileSync(source, "replaced by a process that is not elevated");
    expect(Buffer.compare(readFileSync(inPrefix), readFileSync(out.driver))).toBe(0);
    // A source that cannot be read is refused.
    expect(say("install", winPath(join(root, ".cache/windows/tmp/no-such.sys"))).code).toBe(1);
    expect(say("uninstall")).toEqual({ code: 0, out: ["uninstalled service ioperm"] });
    expect(existsSync(inPrefix)).toBe(false); // uninstall removes the installed file
    expect(say("install", winPath(out.driver)).code).toBe(0);
    expect(say("status")).toEqual({ code: 0, out: ["running"] });
  }, 120_000);

  test("CLI: `driver install` refuses an ioperm.sys whose SHA-256 is not the one built into ioperm.dll (another signed driver, one changed byte): exit 1, DRIVER_MISMATCH, nothing installed (witnesses: the prefix's drivers dir, the SCM)", () => {
    const cli = winPath(join(root, "lib/cli.ts"));
    persistentSession();
    const say = (...args: string[]) => {
      const r = wine(bunExe, [cli, "driver", ...args]);
      return { code: r.code, out: r.lines.filter((l) => !l.includes("Internal error")) };
    };
    const inPrefix = join(winePrefix, "drive_c/windows/system32/drivers/ioperm.sys");
    expect(say("uninstall")).toEqual({ code: 0, out: ["uninstalled service ioperm"] });
    // The swap a user who is not an administrator could make in the build output before an admin installs:
    // a signed driver that is not this one (here the x86 build), or this one with a byte changed.
    const swapped = join(root, ".cache/windows/tmp/swapped-ioperm.sys");
    const changed = readFileSync(out.driver);
    changed.writeUInt8(changed.readUInt8(changed.length - 1) ^ 0xff, changed.length - 1);
    for (const bytes of [readFileSync(join(dirname(out.driver), "..", "x86", "ioperm.sys")), changed]) {
      writeFileSync(swapped, bytes);
      const r = say("install", winPath(swapped));
      expect(r.code).toBe(1);
      expect(r.out.join("\n")).toContain("that ioperm.sys is not the driver this package was built with (its SHA-256 differs");
      expect(existsSync(inPrefix)).toBe(false);
      expect(say("status")).toEqual({ code: 0, out: ["not-installed"] });
    }
    // The same bytes as the build, from the same user-writable place, install.
    copyFileSync(out.driver, swapped);
    const ok = say("install", winPath(swapped));
    expect(ok.code).toBe(0);
    expect(ok.out.some((l) => l.startsWith("warning:"))).toBe(false); // the default allowlist stays below 0x400
    expect(Buffer.compare(readFileSync(inPrefix), readFileSync(out.driver))).toBe(0);
    expect(say("status")).toEqual({ code: 0, out: ["running"] });
  }, 120_000);

  test("CLI: `driver install` warns when the allowlist reaches past the ISA ports (0x0-0xFFFF: every port the denylist leaves), naming PCI I/O BARs, ACPI PM/SMI and DMA; not for the default list", () => {
    const cli = winPath(join(root, "lib/cli.ts"));
    persistentSession();
    const say = (...args: string[]) => wine(bunExe, [cli, "driver", ...args]);
    const warningOf = (r: { lines: string[] }) => r.lines.find((l) => l.startsWith("warning:")) ?? "";
    // AllowedPorts lives under the service's key, so it is set on an installed service, which install then
    // restarts (the SCM deletes the key with the service; a running driver's file cannot be replaced).
    const reinstallWith = (entries: string[]) => {
      wineSh("set-allowlist", ...entries);
      // Stopped, whether it was running or not (a demand-start service is not, after a new session).
      Bun.spawnSync([join(root, "scripts/windows/wine.sh"), "sc", join(root, ".cache/windows/tmp/sc-stop.log"), "stop", "ioperm"], {
        cwd: root,
      });
      expect(say("status").lines.filter((l) => !l.includes("Internal error"))).toEqual(["stopped"]);
      const r = say("install");
      expect(r.code, r.lines.join("\n")).toBe(0);
      return r;
    };
    // Every port from 0x400 up, less the denylisted ones there (0xCF8-0xCFF), read from the header.
    const denied = denylist.reduce((n, [a, b]) => n + Math.max(0, b - Math.max(a, 0x400) + 1), 0);
    try {
      const wide = warningOf(reinstallWith(["0x0-0xFFFF"]));
      expect(wide).toContain(`admits ${0xfc00 - denied} of the ${0xfc00} ports from 0x400 to 0xFFFF`);
      expect(wide).toContain("PCI I/O BARs and the chipset's ACPI PM and SMI registers");
      expect(wide).toContain("a bus-master device programmed through its I/O BAR can DMA into kernel memory");
      expect(warningOf(reinstallWith(["0x378-0x37F", "0xE000-0xE01F"]))).toContain("admits 32 of the 64512 ports");
    } finally {
      expect(warningOf(reinstallWith([]))).toBe("");
    }
  }, 180_000);

  test("importing the package makes no SCM call and opens no device (witness: Wine's service trace and a relay trace of CreateFileW in bun.exe)", () => {
    const script = join(root, ".cache/windows/tmp/import-only.ts");
    writeFileSync(
      script,
      `const lib = await import(${JSON.stringify(winPath(join(root, "lib/index.ts")))});\nif (process.argv[2] === "scm") lib.driverStatus();\nif (process.argv[2] === "device") lib.driverVersion();\nconsole.log("imported");\n`,
    );
    // Relay only CreateFileW (every other call would flood the trace and slow bun.exe to a crawl).
    const relay = ["HKCU\\Software\\Wine\\Debug", "/v", "RelayInclude"];
    expect(wine("reg", ["add", ...relay, "/d", "KERNEL32.CreateFileW;KERNELBASE.CreateFileW", "/f"]).code).toBe(0);
    // The services start (and trace) before the traced runs, so each trace is bun.exe's alone.
    persistentSession();
    wine(bunExe, [winPath(script)]);
    const traced = (...args: string[]) => {
      const lines = wine(bunExe, [winPath(script), ...args], { WINEDEBUG: "+service,+relay" }).lines;
      return {
        imported: lines.includes("imported"),
        scm: lines.some((l) => l.includes("trace:service:OpenSCManagerW")),
        device: lines.some((l) => l.includes("CreateFileW(") && l.includes('L"\\\\\\\\.\\\\ioperm"')),
      };
    };
    try {
      // The controls: calls that do reach the SCM and the device show in the same traces.
      expect(traced("scm")).toMatchObject({ scm: true });
      expect(traced("device")).toMatchObject({ device: true });
      expect(traced()).toEqual({ imported: true, scm: false, device: false });
    } finally {
      wine("reg", ["delete", ...relay, "/f"]);
    }
  }, 120_000);
});
