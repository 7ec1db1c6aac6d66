/**
 * The only file that touches bun:ffi: finds the native library, loads it, and
 * declares every export's signature. Everything else calls `native`.
 *
 * The library is looked for in this order, and a failure names every path tried:
 * 1. IOPERM_LIB (refused in a root or CAP_SYS_RAWIO process when a non-root user could write it);
 * 2. the binary embedded in a `bun build --compile` executable (lib/embed.ts);
 * 3. the installed package's prebuilt/<platform>-<arch>/;
 * 4. the development build, zig/zig-out.
 */
import { FFIType, dlopen } from "bun:ffi";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { binaryProblem } from "./binary.ts";
import { localError } from "./errors.ts";
import { devLibrary, libraryFile, prebuiltDir } from "./paths.ts";

/** Must equal `abi_version` in zig/src/exports.zig. */
export const ABI_VERSION = 3;

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
  ioperm_driver_version: { args: [ptr], returns: i32 },
  ioperm_pci_read32: { args: [u32, u32, u32, u32, ptr], returns: i32 },
  ioperm_driver_install: { args: [ptr, u32], returns: i32 },
  ioperm_driver_uninstall: { args: [], returns: i32 },
  ioperm_driver_status: { args: [], returns: i32 },
  ioperm_nop: { args: [u32, u32], returns: i32 },
  ioperm_bench_in: { args: [u32, u32, u32], returns: i64_fast },
  ioperm_bench_out: { args: [u32, u32, u32, u32], returns: i32 },
  ioperm_nop_prepared_run: { args: [i64, ptr, ptr], returns: i32 },
} as const;

/** Every export the library must have (a test builds stand-ins from this list). */
export const symbolNames: readonly string[] = Object.keys(symbols);

/** Where a library came from, in the order they are tried. */
export type LibrarySource = "IOPERM_LIB" | "embedded" | "prebuilt" | "development build";

let embedded: string | undefined;

/**
 * Registers the library a `bun build --compile` executable carries (see
 * lib/embed.ts, which imports it `with { type: "file" }`). Tried after IOPERM_LIB.
 */
export function useEmbeddedLibrary(path: string): void {
  embedded = path;
}

/** Every place the library is looked for, in order: IOPERM_LIB alone when it is set. */
export function libraryCandidates(): { source: LibrarySource; path: string }[] {
  const override = process.env.IOPERM_LIB;
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
      : "reinstall the package (bun add ioperm)";

/** Whether this process holds port-I/O privilege: root, or CAP_SYS_RAWIO (bit 17) in its effective set. */
function privileged(): boolean {
  if (process.platform !== "linux") return false;
  if (process.getuid?.() === 0) return true;
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSafe("/proc/self/status"))?.[1];
  return capEff !== undefined && (BigInt(`0x${capEff}`) & (1n << 17n)) !== 0n;
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * Why a privileged process must not load `path`: the file, or a directory on
 * its way, can be written by someone other than root (a user could swap the
 * library and run code with the process's privilege). "" when it is safe.
 * A sticky world-writable directory (/tmp) lets nobody replace root's file.
 */
export function unsafeForPrivileged(path: string): string {
  let p = resolve(path);
  for (let first = true; ; first = false) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      return "";
    }
    const sticky = (st.mode & 0o1000) !== 0;
    if (st.uid !== 0) return `${p} is owned by uid ${st.uid}, not root`;
    if ((st.mode & 0o022) !== 0 && (first || !sticky)) return `${p} is writable by ${st.mode & 0o002 ? "every user" : `group ${st.gid}`}`;
    const up = dirname(p);
    if (up === p) return "";
    p = up;
  }
}

function load() {
  const candidates = libraryCandidates();
  const found = candidates.find((c) => existsSync(c.path));
  if (found === undefined) {
    const tried = candidates.map((c) => `${c.path} (${c.source})`).join(", ");
    throw localError(
      "LOAD_FAILED",
      `native library not found; tried ${tried}. Install the package with its binaries (bun add ioperm), build it with \`npm run build\` in a checkout, or set IOPERM_LIB to a built library`,
      "load",
    );
  }
  const { source, path } = found;
  if (source === "IOPERM_LIB" && privileged()) {
    const why = unsafeForPrivileged(path);
    if (why) {
      throw localError(
        "LOAD_FAILED",
        `refusing IOPERM_LIB=${path} in a process with port-I/O privilege: ${why}, so another user could replace the code this process runs; install it root-owned and not group- or world-writable, or unset IOPERM_LIB`,
        "load",
      );
    }
  }
  const problem = binaryProblem(readFileSync(path), process.platform, process.arch);
  if (problem) throw localError("LOAD_FAILED", `could not load ${path} (${source}): ${problem}; ${remedy(source)}`, "load");
  let lib: ReturnType<typeof dlopen<typeof symbols>>;
  try {
    lib = dlopen(path, symbols);
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

/** errno of each backend's attempt at this thread's last failed grant. */
export function nativeDiagnosis(): { ioperm?: number; devport?: number } {
  const out = new Int32Array(2);
  native().ioperm_diagnose(out);
  return { ioperm: out[0] || undefined, devport: out[1] || undefined };
}

/** The native caps of timed steps in microseconds, for checking lib/batch.ts against them. */
export function nativeStepLimits(): { step: number; call: number } {
  const out = new Uint32Array(2);
  native().ioperm_step_limits(out);
  return { step: out[0] ?? 0, call: out[1] ?? 0 };
}
