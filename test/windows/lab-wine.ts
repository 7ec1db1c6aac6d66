// Wine inside the lab VM, for test/lab/wine.lab.ts and `bun run bench --wine`.
// The host prepared the prefix (scripts/windows/lab-prefix.sh: ioperm.sys as an
// auto-start service, the lab allowlist); the guest sees it through its
// read-only root and writes to its RAM overlay. Every Wine command runs under
// ioperm-with-iopl, so the session's winedevice.exe inherits iopl(3) and the
// driver's in/out reach QEMU's devices. Output always goes to files in the run
// dir, never pipes (background Wine processes would hold a pipe open).
import { devLibrary, devTool, devWindowsDir, packageRoot as root } from "../../lib/paths.ts";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export { packageRoot as root } from "../../lib/paths.ts";
export const withIopl = devTool("ioperm-with-iopl");
export const iopermctl = join(devWindowsDir("x64"), "iopermctl.exe");
export const iopermDll = devLibrary("win32-x64");
const wineSh = join(root, "scripts/windows/wine.sh");
const infoFile = join(root, ".cache/windows/lab-wine.json");

/** What scripts/windows/lab-prefix.sh wrote for the guest. */
export interface LabWine {
  prefix: string;
  /** Parameters\AllowedPorts as the host wrote it, space-separated. */
  allowlist: string;
  /** bun.exe for Windows, or null when the host could not fetch it. */
  bunExe: string | null;
}

/** What the host prepared, or why Wine cannot run in this lab VM. */
export function labWine(): LabWine | string {
  if (!Bun.which("wine")) return "wine is not installed (Debian: apt-get install wine wine64)";
  if (!existsSync(infoFile)) return `${infoFile} is missing: the host did not run scripts/windows/lab-prefix.sh`;
  for (const f of [withIopl, iopermctl, iopermDll]) {
    if (!existsSync(f)) return `${f} is missing: build with scripts/build.sh and scripts/windows/build.sh`;
  }
  return JSON.parse(readFileSync(infoFile, "utf8")) as LabWine;
}

/** Z:\ path of a path, as Wine programs see it: the one definition is the host tests'. */
export { winPath } from "./wine.ts";

/** Where this run's Wine logs and scripts go: inside the run dir, so the host keeps them. */
export function wineDir(): string {
  const run = process.env.IOPERM_LAB_RUN;
  if (!run) throw new Error("IOPERM_LAB_RUN is not set: this runs inside the lab VM (bun run lab)");
  const dir = join(run, "wine");
  mkdirSync(dir, { recursive: true });
  return dir;
}

let seq = 0;

/** One Wine session in the guest, every process of it holding iopl(3). */
export class WineSession {
  readonly env: Record<string, string>;

  constructor(readonly info: LabWine) {
    this.env = {
      ...(process.env as Record<string, string>),
      IOPERM_WINEPREFIX: info.prefix,
      IOPERM_WINE_LOGS: join(wineDir(), "logs"),
      IOPERM_WINE_TIMEOUT: "180",
    };
  }

  private wineSh(args: string[]): number {
    const r = Bun.spawnSync([withIopl, "sh", wineSh, ...args], {
      cwd: root,
      env: this.env,
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
    return r.exitCode ?? -1;
  }

  /**
   * Starts a persistent wineserver (otherwise the session, and the driver with
   * it, ends 3 s after each command), then waits until the driver answers
   * VERSION: the first Wine process boots the session and services.exe starts
   * ioperm.sys. Returns how long that took, in ms.
   */
  start(limitMs = 120_000): number {
    const t0 = performance.now();
    if (this.wineSh(["server"]) !== 0) throw new Error(`wine.sh server failed; see ${this.env.IOPERM_WINE_LOGS}`);
    for (;;) {
      const r = this.run(iopermctl, ["version"]);
      if (r.code === 0) return performance.now() - t0;
      if (performance.now() - t0 > limitMs) throw new Error(`the driver did not answer within ${limitMs} ms:\n${r.lines.join("\n")}`);
      Bun.sleepSync(1000);
    }
  }

  /** Runs a Windows program; its exit code and output lines (kept in a file in the run dir). */
  run(exe: string, args: string[]): { code: number; lines: string[]; log: string } {
    const log = join(wineDir(), `run-${seq++}.log`);
    const code = this.wineSh(["run", log, exe, ...args]);
    const text = existsSync(log) ? readFileSync(log, "utf8") : "";
    return { code, lines: text.split(/\r?\n/).filter((l) => l.length > 0), log };
  }

  /** Ends the session: every process of the prefix (wineserver -k, then waits for it). */
  stop(): void {
    Bun.spawnSync(["sh", wineSh, "kill"], { cwd: root, env: this.env, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  }
}

/** Wine processes still alive (witness: /proc), as "pid cmdline". */
export function wineProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let cmd = "";
    try {
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"))) continue;
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
    } catch {
      continue; // gone meanwhile
    }
    if (/wineserver|wine64|wine-preloader|\.exe\b/i.test(cmd)) found.push(`${pid} ${cmd}`);
  }
  return found;
}
