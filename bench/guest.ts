/**
 * The lab benchmark, inside the VM (bench/run.ts --vm boots it): the direct
 * backend, /dev/port, a process per access and, with --wine, the Windows
 * driver under Wine in the same VM. Writes its RunResult to $IOPERM_LAB_RUN.
 *
 *   bun bench/guest.ts [--wine] [--time MS] [--rounds N] [--quick]
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { open } from "../lib/index.ts";
import { commandCases, countNativeCalls, devportCases, directCases, grantTargets, handshakeCases, openDevport, ppdevCases } from "./lab.ts";
import { type CaseResult, type RunResult, addRatios } from "./model.ts";
import { parseBenchArgs, type Settings, say, settingsArgs } from "./options.ts";
import { baseResult, rebuiltNote, runCases, type Skipped } from "./runner.ts";

/** Where the guest leaves its result for the host, in the run dir. */
export const LAB_FILE = "bench-lab.json";

/** Inside the VM: direct backend, then /dev/port, then a process per access. */
async function lab(settings: Settings, wine: boolean): Promise<RunResult> {
  const skipped: Skipped = [];
  const results: CaseResult[] = [];
  {
    // Counted on a handle of its own, closed before the timed handle opens.
    const calls = countNativeCalls("direct");
    using io = open({ backend: "direct" });
    grantTargets(io, true);
    const specs = [...directCases(io), ...handshakeCases(io, "", calls)];
    say(`lab: direct backend, ${specs.length} cases, ${settings.minTimeMs} ms each`);
    results.push(...(await runCases(settings, specs, skipped)));
  }
  {
    // A thread keeps one backend until it releases everything; the handle above did.
    using io = open({ backend: "devport" });
    grantTargets(io, false);
    const dev = openDevport();
    try {
      const specs = devportCases(io, dev.fd);
      say(`lab: /dev/port, ${specs.length} cases`);
      results.push(...(await runCases(settings, specs, skipped)));
    } finally {
      dev.close();
    }
  }
  {
    // ppdev: the kernel's parport drivers, loaded here for this path (the direct paths above do not mind them).
    const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    for (const m of ["parport/parport.ko", "parport/parport_pc.ko", "char/ppdev.ko"]) {
      Bun.spawnSync(["busybox", "insmod", `/lib/modules/${release}/kernel/drivers/${m}`]);
    }
    for (let i = 0; i < 50 && !existsSync("/dev/parport0"); i++) Bun.sleepSync(100);
    try {
      using io = open({ backend: "ppdev", device: "/dev/parport0" });
      io.grant(0x378, 3);
      const specs = ppdevCases(io);
      say(`lab: ppdev, ${specs.length} cases`);
      results.push(...(await runCases(settings, specs, skipped)));
    } catch (e) {
      skipped.push({ name: "ppdev-ts", reason: (e as Error).message });
    } finally {
      // Unloaded again: whatever runs next in this VM finds LPT1 unclaimed, as before.
      for (const m of ["ppdev", "parport_pc", "parport"]) Bun.spawnSync(["busybox", "rmmod", m]);
    }
  }
  if (Bun.which("inb") === null) {
    skipped.push({ name: "ioport-cmd", reason: "Debian's ioport tools (inb/outb) are not installed" });
  } else {
    const specs = commandCases();
    say(`lab: a process per access, ${specs.length} cases`);
    results.push(...(await runCases(settings, specs, skipped)));
  }
  if (wine) results.push(...(await wineCases(settings, skipped)));
  addRatios(results);
  return {
    ...baseResult("lab", "bun run bench --vm", settings),
    cases: results,
    skipped,
    notes: [
      ...rebuiltNote(),
      "The lab is QEMU with TCG (software emulation): guest code is translated, and every in/out leaves the " +
        "translated code for QEMU's device emulation. Absolute times are those of that emulated PC, far from " +
        "real hardware; the ratios between paths measured in this same run are the result.",
      "Floor: native-loop4096, single in (ioperm_bench_in) or out (ioperm_bench_out) in a Zig loop inside one call.",
      "/dev/port paths are 8-bit only; devport-pread-range reads the device's register block (consecutive ports) in one pread.",
      "PCI 0xCFC is read only: a write lands in whatever register 0xCF8 selects, and the kernel owns 0xCF8.",
      "handshake-*: one transaction sends a byte out of LPT1 waiting out BUSY (status wait, data, strobe on, strobe off); " +
        "× floor divides the separate calls by the batch. native_calls_per_call counts the calls into the native library " +
        "per transaction through a wrapped symbol table (on the driver backend, each is one DeviceIoControl).",
      ...(wine
        ? [
            "driver-* paths: bun.exe (Bun for Windows) under Wine 8 in this same VM, lib/ -> ioperm.dll -> DeviceIoControl " +
              "-> ioperm.sys in winedevice.exe, which runs the in/out (Wine started under ioperm-with-iopl, so it holds " +
              "iopl(3)). Each single access is one IOCTL; batch64/string64 are one IOCTL per 64 accesses. Under Wine an " +
              "IOCTL is a round trip client -> wineserver -> winedevice -> wineserver -> client (processes on one " +
              "emulated CPU), so these figures are Wine's IPC far more than the driver; on Windows the round trip is a " +
              "system call. × floor divides by the direct path's native-loop4096 for the same access, measured here.",
          ]
        : []),
    ],
  };
}

/**
 * Inside the VM: boots a Wine session holding iopl(3) and runs this file in
 * bun.exe with --wine-guest, which times the driver cases. Returns them, or
 * records why not in `skipped`.
 */
async function wineCases(settings: Settings, skipped: Skipped): Promise<CaseResult[]> {
  const { labWine, WineSession, winPath, wineDir } = await import("../test/windows/lab-wine.ts");
  const info = labWine();
  if (typeof info === "string" || info.bunExe === null) {
    skipped.push({
      name: "driver-*",
      reason: typeof info === "string" ? info : "no bun.exe (scripts/windows/bun-windows.sh failed on the host)",
    });
    return [];
  }
  const session = new WineSession(info);
  try {
    say(`lab: Wine session up, driver answering, after ${(session.start() / 1000).toFixed(1)} s`);
    const file = join(wineDir(), "bench-driver.json");
    const t0 = performance.now();
    const r = session.run(info.bunExe, [
      winPath(join(import.meta.dir, "wine-guest.ts")),
      "--out",
      winPath(file),
      ...settingsArgs(settings),
    ]);
    say(r.lines.filter((l) => !l.startsWith("Internal error")).join("\n"));
    if (r.code !== 0 || !existsSync(file)) {
      skipped.push({ name: "driver-*", reason: `bun.exe under Wine exited ${r.code}; see ${r.log}` });
      return [];
    }
    say(`lab: driver cases took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const got = JSON.parse(readFileSync(file, "utf8")) as { cases: CaseResult[]; skipped: { name: string; reason: string }[] };
    skipped.push(...got.skipped);
    return got.cases;
  } catch (e) {
    skipped.push({ name: "driver-*", reason: (e as Error).message });
    return [];
  } finally {
    session.stop();
  }
}

if (import.meta.main) {
  const { settings, values } = parseBenchArgs(Bun.argv.slice(2), { wine: { type: "boolean", default: false } }, () => 1);
  const dir = process.env.IOPERM_LAB_RUN;
  if (!dir) throw new Error("bench/guest.ts runs inside the lab VM (use bun run bench --vm); IOPERM_LAB_RUN is not set");
  const run = await lab(settings, values.wine === true);
  writeFileSync(join(dir, LAB_FILE), `${JSON.stringify(run)}\n`);
  say(`lab: ${run.cases.length} cases measured, ${run.skipped.length} skipped`);
}
