/**
 * The only file that touches bun:ffi: finds the native library, loads it, and
 * declares every export's signature. Everything else calls `native`.
 *
 * The library is looked for in this order, and a failure names every path tried:
 * 1. IOPERM_LIB (in a privileged process, only a root-owned file that nobody else can
 *    write, checked and loaded through one descriptor: see `unsafeOpened`);
 * 2. the binary embedded in a `bun build --compile` executable (lib/prebuilt.ts);
 * 3. the installed package's prebuilt/<platform>-<arch>/;
 * 4. the development build, zig/zig-out.
 */
import { FFIType, dlopen } from "bun:ffi";
import {
  type Stats,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  readlinkSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { binaryProblem } from "./binary.ts";
import type { Diagnosis } from "./diagnose.ts";
import { IopermError, localError } from "./errors.ts";
import { currentPlatform, devLibrary, libraryFile, prebuiltDir } from "./paths.ts";
import { prebuiltLibraries } from "./prebuilt.ts";
import { machineProblem, place } from "./where.ts";

/** Must equal `abi_version` in zig/src/exports.zig. */
export const ABI_VERSION = 5;

const { u32, i32, i64, i64_fast, ptr, cstring, void: none } = FFIType;

const symbols = {
  ioperm_abi_version: { args: [], returns: u32 },
  ioperm_status_count: { args: [], returns: u32 },
  ioperm_status_at: { args: [u32, ptr], returns: cstring },
  ioperm_open: { args: [u32], returns: i32 },
  ioperm_ppdev: { args: [ptr, u32, u32], returns: i32 },
  ioperm_adopt: { args: [i32], returns: i32 },
  ioperm_grant: { args: [u32, u32], returns: i32 },
  ioperm_grant_all: { args: [], returns: i32 },
  ioperm_release: { args: [u32, u32], returns: i32 },
  ioperm_thread_backend: { args: [], returns: i32 },
  ioperm_backend_name: { args: [u32], returns: cstring },
  ioperm_all_ports_flag: { args: [], returns: i32 },
  ioperm_is_granted: { args: [u32, u32], returns: i32 },
  ioperm_diagnose: { args: [ptr], returns: none },
  ioperm_diagnosis_field: { args: [u32], returns: cstring },
  ioperm_inb: { args: [u32], returns: i32 },
  ioperm_inw: { args: [u32], returns: i32 },
  ioperm_inl: { args: [u32], returns: i64_fast },
  ioperm_outb: { args: [u32, u32], returns: i32 },
  ioperm_outw: { args: [u32, u32], returns: i32 },
  ioperm_outl: { args: [u32, u32], returns: i32 },
  ioperm_insb: { args: [u32, ptr, u32], returns: i32 },
  ioperm_insw: { args: [u32, ptr, u32], returns: i32 },
  ioperm_insl: { args: [u32, ptr, u32], returns: i32 },
  ioperm_outsb: { args: [u32, ptr, u32], returns: i32 },
  ioperm_outsw: { args: [u32, ptr, u32], returns: i32 },
  ioperm_outsl: { args: [u32, ptr, u32], returns: i32 },
  ioperm_batch: { args: [ptr, u32, ptr], returns: i32 },
  ioperm_timeout_value: { args: [], returns: u32 },
  ioperm_step_limits: { args: [ptr], returns: none },
  ioperm_prepare: { args: [ptr, u32, ptr], returns: i64_fast },
  ioperm_prepared_run: { args: [i64, ptr, ptr], returns: i32 },
  ioperm_prepared_free: { args: [i64], returns: i32 },
  ioperm_prepared_alive: { args: [], returns: u32 },
  ioperm_driver_version: { args: [ptr], returns: i32 },
  ioperm_pci_read32: { args: [u32, u32, u32, u32, ptr], returns: i32 },
  ioperm_driver_install: { args: [ptr, u32], returns: i32 },
  ioperm_driver_uninstall: { args: [], returns: i32 },
  ioperm_driver_status: { args: [], returns: i32 },
  ioperm_nop: { args: [u32, u32], returns: i32 },
  ioperm_bench_in: { args: [u32, u32, u32], returns: i64_fast },
  ioperm_bench_out: { args: [u32, u32, u32, u32], returns: i32 },
  ioperm_nop_prepared_run: { args: [i64, ptr, ptr], returns: i32 },
  ioperm_bus_lock: { args: [u32, u32, ptr], returns: i32 },
  ioperm_bus_unlock: { args: [i64], returns: i32 },
  ioperm_bus_lock_name: { args: [u32], returns: cstring },
} as const;

/** Every export the library must have (a test builds stand-ins from this list). */
export const symbolNames: readonly string[] = Object.keys(symbols);

/** Where a library came from, in the order they are tried. */
export type LibrarySource = "IOPERM_LIB" | "embedded" | "prebuilt" | "development build";

// A compiled executable carries the published package's prebuilt library for its
// platform (lib/prebuilt.ts, which scripts/pack.ts fills with imports Bun embeds).
let embedded: string | undefined = place === "compiled" ? prebuiltLibraries[currentPlatform()] : undefined;

/**
 * Registers the library a `bun build --compile` executable carries (lib/embed.ts
 * calls it; a compiled executable registers lib/prebuilt.ts's file by itself). Tried after IOPERM_LIB.
 */
export function useEmbeddedLibrary(path: string): void {
  embedded = path;
}

/** Every place the library is looked for, in order: IOPERM_LIB alone when it is set. */
export function libraryCandidates(): { source: LibrarySource; path: string }[] {
  const { IOPERM_LIB: override } = process.env;
  if (override) return [{ source: "IOPERM_LIB", path: override }];
  return [
    ...(embedded === undefined ? [] : [{ source: "embedded" as const, path: embedded }]),
    { source: "prebuilt", path: join(prebuiltDir(), libraryFile()) },
    { source: "development build", path: devLibrary() },
  ];
}

/** The library this process loads (or would): the first candidate that exists. */
export function libraryPath(): string {
  const all = libraryCandidates();
  return (all.find((c) => existsSync(c.path)) ?? all[all.length - 1] ?? { path: devLibrary() }).path;
}

const remedy = (source: LibrarySource) =>
  source === "development build"
    ? "rebuild it with `npm run build`"
    : source === "IOPERM_LIB"
      ? "point IOPERM_LIB at a built libioperm (or unset it)"
      : source === "embedded"
        ? "rebuild the executable from an installed ioperm (bun add ioperm)"
        : "reinstall the package (bun add ioperm)";

/** What to do when no candidate exists: what was tried depends on where this copy runs. */
const notFoundRemedy = () =>
  place === "checkout"
    ? "build it with `npm run build`, or set IOPERM_LIB to a built library"
    : place === "compiled"
      ? "this executable carries no library for this platform: build it with `bun build --compile` in a project that installed ioperm (bun add ioperm), for a linux-x64 or win32-x64 target, or set IOPERM_LIB to a built library"
      : "the package lacks its prebuilt binaries: reinstall it (bun add ioperm), or set IOPERM_LIB to a built library";

/** AT_SECURE in the auxiliary vector: the kernel sets it for a setuid, setgid or file-capability start. */
const AT_SECURE = 23n;

/**
 * Why this process must trust only root's files, or "" when it need not: an
 * effective uid of 0, any capability in its effective or permitted set, or a
 * start through setuid, setgid or file capabilities (AT_SECURE, which covers a
 * rig given `setcap` and started by another user). What cannot be read counts
 * as privileged, so a process without /proc refuses IOPERM_LIB rather than trusts it.
 */
function privilege(): string {
  if (process.platform !== "linux") return "";
  if (process.geteuid?.() === 0) return "effective uid 0";
  let status: string;
  try {
    status = readFileSync("/proc/self/status", "utf8");
  } catch (e) {
    return `its privilege is unknown: ${(e as Error).message}`;
  }
  let auxv: Uint8Array;
  try {
    auxv = readFileSync("/proc/self/auxv");
  } catch (e) {
    // The kernel gives a setuid, setgid or file-capability process a root-owned /proc/self.
    return `/proc/self/auxv is unreadable (${(e as Error).message}), as it is after a setuid, setgid or file-capability start`;
  }
  for (const set of ["CapEff", "CapPrm"]) {
    const bits = new RegExp(`^${set}:\\s*([0-9a-f]+)$`, "m").exec(status)?.[1];
    if (bits === undefined) return `its privilege is unknown: no ${set} in /proc/self/status`;
    if (BigInt(`0x${bits}`) !== 0n) return `capabilities 0x${bits} in its ${set === "CapEff" ? "effective" : "permitted"} set`;
  }
  const secure = auxvEntry(auxv, AT_SECURE);
  if (secure === undefined) return "its privilege is unknown: no AT_SECURE in /proc/self/auxv";
  return secure === 0n ? "" : "started setuid, setgid or with file capabilities (AT_SECURE)";
}

/** The value of `type` in an auxiliary vector (pairs of native words, ended by AT_NULL). */
function auxvEntry(auxv: Uint8Array, type: bigint): bigint | undefined {
  const word = process.arch === "ia32" || process.arch === "arm" ? 4 : 8;
  const v = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength);
  const at = (i: number) => (word === 8 ? v.getBigUint64(i, true) : BigInt(v.getUint32(i, true)));
  for (let i = 0; i + 2 * word <= auxv.byteLength; i += 2 * word) {
    const key = at(i);
    if (key === 0n) return undefined;
    if (key === type) return at(i + word);
  }
  return undefined;
}

/**
 * Why a privileged process must not run the code in the open file `fd`, or ""
 * when it may. The file itself is judged (fstat: the inode that will be
 * mapped), then every directory of the path the kernel resolved to it
 * (/proc/self/fd), never the text the caller gave: `..` after a user's
 * symlink and a name swapped after the check both lead elsewhere. Each must
 * belong to root and be writable by nobody else; a sticky directory above the
 * file (/tmp) may be world-writable, since nobody can replace root's entries in it.
 * A failure to check is a refusal.
 */
function unsafeOpened(fd: number): string {
  try {
    const file = fstatSync(fd);
    const real = readlinkSync(`/proc/self/fd/${fd}`);
    if (!file.isFile()) return `${real} is not a regular file`;
    const named = lstatSync(real);
    if (named.ino !== file.ino || named.dev !== file.dev) return `${real} was moved or replaced while it was checked`;
    const why = (what: string, st: Stats, isFile: boolean) =>
      st.uid !== 0
        ? `${what} is owned by uid ${st.uid}, not root`
        : (st.mode & 0o022) !== 0 && (isFile || (st.mode & 0o1000) === 0)
          ? `${what} is writable by ${st.mode & 0o002 ? "every user" : `group ${st.gid}`}`
          : "";
    const own = why(real, file, true);
    if (own) return own;
    for (let dir = dirname(real); ; dir = dirname(dir)) {
      const st = lstatSync(dir);
      if (!st.isDirectory()) return `${dir}, above ${real}, is no longer a directory`;
      const above = why(`${dir}, above ${real},`, st, false);
      if (above) return above;
      if (dir === "/") return "";
    }
  } catch (e) {
    return `it could not be checked: ${(e as Error).message}`;
  }
}

/** The whole file behind `fd`, read through the descriptor itself. */
function readAll(fd: number): Uint8Array {
  const out = new Uint8Array(fstatSync(fd).size);
  for (let at = 0; at < out.length; ) {
    const n = readSync(fd, out, at, out.length - at, at);
    if (n === 0) return out.subarray(0, at);
    at += n;
  }
  return out;
}

/**
 * Opens IOPERM_LIB for a privileged process: the descriptor of a file that
 * `unsafeOpened` accepts, which the caller loads through /proc/self/fd/N, so
 * the file checked is the file mapped. O_NONBLOCK keeps a FIFO from hanging the open.
 */
function openTrusted(path: string, who: string): number {
  const refuse = (why: string) =>
    localError(
      "LOAD_FAILED",
      `refusing IOPERM_LIB=${path} in a privileged process (${who}): ${why}. A privileged process loads only a regular file owned by root and writable by nobody else, in directories that are the same (a sticky one such as /tmp is allowed above them); install it so, or unset IOPERM_LIB`,
      "load",
    );
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw refuse(`it could not be opened: ${(e as Error).message}`);
  }
  const why = unsafeOpened(fd);
  if (why) {
    closeSync(fd);
    throw refuse(why);
  }
  return fd;
}

function load() {
  const machine = machineProblem(process.platform, process.arch);
  if (machine) throw new IopermError("UNSUPPORTED", `open(): ${machine}`, { op: "open" });
  const candidates = libraryCandidates();
  const found = candidates.find((c) => existsSync(c.path));
  if (found === undefined) {
    const tried = candidates.map((c) => `${c.path} (${c.source})`).join(", ");
    throw localError("LOAD_FAILED", `native library not found; tried ${tried}. ${notFoundRemedy()}`, "load");
  }
  const { source, path } = found;
  const who = source === "IOPERM_LIB" ? privilege() : "";
  const fd = who ? openTrusted(path, who) : undefined;
  try {
    const problem = binaryProblem(fd === undefined ? readFileSync(path) : readAll(fd), process.platform, process.arch);
    if (problem) throw localError("LOAD_FAILED", `could not load ${path} (${source}): ${problem}; ${remedy(source)}`, "load");
    let lib: ReturnType<typeof dlopen<typeof symbols>>;
    try {
      lib = dlopen(fd === undefined ? path : `/proc/self/fd/${fd}`, symbols);
    } catch (e) {
      throw localError("LOAD_FAILED", `could not load ${path} (${source}): ${(e as Error).message}; ${remedy(source)}`, "load");
    }
    const abi = lib.symbols.ioperm_abi_version();
    if (abi !== ABI_VERSION) {
      lib.close();
      throw localError(
        "ABI_MISMATCH",
        `${path} (${source}) has ABI version ${abi}, this lib/ expects ${ABI_VERSION}: ${remedy(source)}`,
        "load",
      );
    }
    return lib.symbols;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

let loaded: ReturnType<typeof load> | undefined;

/** The native exports, loaded on first use so that importing never throws. */
export function native(): ReturnType<typeof load> {
  loaded ??= load();
  return loaded;
}

/** The native status table, for checking lib/status.ts against it. */
export function nativeStatusTable(): Map<string, number> {
  const n = native();
  const out = new Map<string, number>();
  const code = new Int32Array(1);
  for (let i = 0; i < n.ioperm_status_count(); i++) {
    const name = n.ioperm_status_at(i, code);
    out.set(String(name).toUpperCase(), code[0] ?? 0);
  }
  return out;
}

/** The native backend table (number → name) and the "holds every port" flag, for checking lib/ against them. */
export function nativeBackends(): { names: string[]; allPortsFlag: number } {
  const n = native();
  const names: string[] = [];
  for (let i = 0; i < 16; i++) {
    const name = n.ioperm_backend_name(i);
    if (name === null || String(name) === "null") break;
    names.push(String(name));
  }
  return { names, allPortsFlag: n.ioperm_all_ports_flag() };
}

/**
 * The fields of zig/src/platform.zig `Diagnosis`, each an i32, in memory order
 * (test/status.test.ts checks them against `nativeDiagnosisFields()`).
 */
export const DIAGNOSIS_FIELDS = ["os_error", "devport_errno"] as const;

/** Why this thread's last grant (Windows: driver call) failed: ioperm_diagnose's copy of platform.Diagnosis. */
export function nativeDiagnosis(): Diagnosis {
  const out = new Int32Array(DIAGNOSIS_FIELDS.length);
  native().ioperm_diagnose(out);
  const at = (field: (typeof DIAGNOSIS_FIELDS)[number]) => out[DIAGNOSIS_FIELDS.indexOf(field)] || undefined;
  return { osError: at("os_error"), devportErrno: at("devport_errno") };
}

/** The native Diagnosis field names, in memory order, for checking DIAGNOSIS_FIELDS against them. */
export function nativeDiagnosisFields(): string[] {
  const n = native();
  const names: string[] = [];
  for (let i = 0; ; i++) {
    const name = n.ioperm_diagnosis_field(i);
    if (name === null || String(name) === "null") return names;
    names.push(String(name));
  }
}

/** The native caps of timed steps in microseconds, for checking lib/batch.ts against them. */
export function nativeStepLimits(): { step: number; call: number } {
  const out = new Uint32Array(2);
  native().ioperm_step_limits(out);
  return { step: out[0] ?? 0, call: out[1] ?? 0 };
}
