// Shared by the Wine tests: build, prefix, driver service, and runners that
// keep Wine's output in files (scripts/windows/wine.sh). Also reads the
// driver's protocol header, so expectations come from the one source of truth.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export { packageRoot as root } from "../../lib/paths.ts";
import { devLibrary, devWindowsDir, packageRoot as root } from "../../lib/paths.ts";
const wineSh = join(root, "scripts/windows/wine.sh");
const tmp = join(root, ".cache/windows/tmp");
/** The Wine prefix the tests run in: scripts/windows/wine.sh's (IOPERM_WINEPREFIX, else .cache/windows/wineprefix). */
export const winePrefix = process.env.IOPERM_WINEPREFIX ?? join(root, ".cache/windows/wineprefix");
export const out = {
  driver: join(devWindowsDir("x64"), "ioperm.sys"),
  ctl: join(devWindowsDir("x64"), "iopermctl.exe"),
  dll: devLibrary("win32-x64"),
};

/** Z:\ path of a host path, as Wine programs see it. */
export const winPath = (p: string) => `Z:${p.replaceAll("/", "\\")}`;

function sh(args: string[], what: string): void {
  const r = Bun.spawnSync(args, { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${what} failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
}

/** Builds the Windows artifacts (cached by zig), creates the prefix, installs the driver. */
export function setUp(): void {
  // npm test installs Wine (bootstrap --windows): a missing Wine is a broken install, so it fails, never skips.
  if (!Bun.which("wine")) throw new Error("wine is not installed: run sh scripts/bootstrap.sh --windows (Debian wine, wine64)");
  // Wine does not check signatures: without osslsigncode, test an unsigned build.
  const sign = Bun.which("osslsigncode") && Bun.which("openssl") ? [] : ["-Dsign=false"];
  sh(["sh", join(root, "scripts/windows/build.sh"), ...sign], "scripts/windows/build.sh");
  if (!existsSync(join(winePrefix, "system.reg"))) sh([wineSh, "prefix"], "wineboot");
  installDriver();
}

/** Bun for Windows at the pinned version, with the Wine shim beside it (scripts/windows/bun-windows.sh); its path. */
export function bunWindowsExe(): string {
  const r = Bun.spawnSync(["sh", join(root, "scripts/windows/bun-windows.sh")], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`bun-windows.sh: ${r.stderr}`);
  return r.stdout.toString().trim();
}

export function installDriver(): void {
  sh([wineSh, "install-driver", out.driver], "install-driver");
}

/**
 * A fresh session whose wineserver stays up until tearDown(): services (and the
 * driver in winedevice) keep running between commands instead of ending with a
 * session 3 s after the last one, and start before whatever runs next.
 */
export function persistentSession(): void {
  Bun.spawnSync([wineSh, "kill"], { cwd: root });
  sh([wineSh, "server"], "wine.sh server");
}

export function tearDown(): void {
  Bun.spawnSync([wineSh, "kill"], { cwd: root });
}

/** Sets (or with no entries, deletes) Parameters\AllowedPorts, then restarts the service. */
export function setAllowlist(entries: string[]): boolean {
  sh([wineSh, "set-allowlist", ...entries], "set-allowlist");
  return Bun.spawnSync([wineSh, "restart-driver"], { cwd: root }).exitCode === 0;
}

let seq = 0;
/** Runs a Windows program under Wine (with extra environment, e.g. WINEDEBUG); returns its exit code and output lines. */
export function wine(exe: string, args: string[], env: Record<string, string> = {}): { code: number; lines: string[] } {
  mkdirSync(tmp, { recursive: true });
  const log = join(tmp, `run-${process.pid}-${seq++}.log`);
  const r = Bun.spawnSync([wineSh, "run", log, exe, ...args], { cwd: root, env: { ...process.env, ...env } });
  const text = existsSync(log) ? readFileSync(log, "utf8") : "";
  return { code: r.exitCode ?? -1, lines: text.split(/\r?\n/).filter((l) => l.length > 0) };
}

/** JSON lines of a Wine program's output; other lines (Wine or Bun chatter) are dropped. */
export function jsonLines<T>(lines: string[]): T[] {
  return lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as T);
}

export interface CtlResult {
  op: string;
  ok: boolean;
  error: number;
  bytes?: number;
  out?: string;
  sddl?: string;
}

/** Runs iopermctl over a script of raw requests (see windows-driver/exe/iopermctl.c). */
export function ctl(lines: string[]): CtlResult[] {
  mkdirSync(tmp, { recursive: true });
  const file = join(tmp, `script-${process.pid}-${seq++}.txt`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return jsonLines<CtlResult>(wine(out.ctl, ["script", winPath(file)]).lines);
}

export function ctlCommand(command: string): CtlResult[] {
  return jsonLines<CtlResult>(wine(out.ctl, [command]).lines);
}

// ---- the protocol header ----------------------------------------------------

const headerText = readFileSync(join(root, "windows-driver/include/ioperm_ioctl.h"), "utf8");

/** Numeric #defines of ioperm_ioctl.h (IOPERM_RESULT_*, IOPERM_MAX_BATCH, ...). */
export const h: Record<string, number> = Object.fromEntries(
  [...headerText.matchAll(/^#define (IOPERM_\w+)\s+(0x[0-9A-Fa-f]+|\d+)u?\b/gm)].map((m) => [m[1]!, Number(m[2])]),
);

export const deviceSddl = /#define IOPERM_DEVICE_SDDL\s+L"([^"]+)"/.exec(headerText)![1]!;

/** The X(from, to) ranges of one range-list macro of the header, inclusive. */
function macroRanges(name: string): [number, number][] {
  const body = new RegExp(`#define ${name}\\(X\\)([\\s\\S]*?)(?:\\n\\n|\\n#)`).exec(headerText)?.[1] ?? "";
  return [...body.matchAll(/X\((0x[0-9A-Fa-f]+), (0x[0-9A-Fa-f]+)\)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** IOPERM_DEFAULT_ALLOWLIST as inclusive ranges. */
export const defaultAllowlist = macroRanges("IOPERM_DEFAULT_ALLOWLIST");

/** IOPERM_DENYLIST: ports the driver never runs, whatever the allowlist says. */
export const denylist = macroRanges("IOPERM_DENYLIST");

// ---- request encoding ------------------------------------------------------------

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** IOPERM_OP bytes. */
export function op(port: number, width: number, flags = 0, value = 0): Uint8Array {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint16(0, port, true);
  v.setUint8(2, width);
  v.setUint8(3, flags);
  v.setUint32(4, value >>> 0, true);
  return new Uint8Array(v.buffer);
}

/** A parameter slot: IOPERM_WAIT_PARAM {mask, expect} or IOPERM_PULSE_PARAM {rest, hold_us}. */
export function pair(a: number, b: number): Uint8Array {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint32(0, a >>> 0, true);
  v.setUint32(4, b >>> 0, true);
  return new Uint8Array(v.buffer);
}

/** IOPERM_BATCH_HEADER + ops, with the count (and the header's value field, in: 0) as given. */
export function batch(ops: Uint8Array[], count = ops.length, reserved = 0): Uint8Array {
  const b = new Uint8Array(16 + 8 * ops.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, count, true);
  v.setUint32(12, reserved, true);
  for (const [i, o] of ops.entries()) b.set(o, 16 + 8 * i);
  return b;
}

/** One iopermctl line: ioctl NAME HEX OUTLEN. */
export const ioctl = (name: string, input: Uint8Array | null, outLen: number) =>
  `ioctl ${name} ${input?.length ? hex(input) : "-"} ${outLen}`;

/** Reply fields: IOPERM_PORT_REPLY or IOPERM_BATCH_HEADER. */
export function reply(r: CtlResult): DataView {
  const b = Buffer.from(r.out ?? "", "hex");
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
