/**
 * The only file that touches bun:ffi: finds the native library, loads it, and
 * declares every export's signature. Everything else calls `native`.
 */
import { FFIType, dlopen, suffix } from "bun:ffi";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { localError } from "./errors.ts";

/** Must equal `abi_version` in zig/src/exports.zig. */
export const ABI_VERSION = 1;

const { u32, i32, i64_fast, ptr, cstring, void: none } = FFIType;

const symbols = {
  ioperm_abi_version: { args: [], returns: u32 },
  ioperm_status_count: { args: [], returns: u32 },
  ioperm_status_at: { args: [u32, ptr], returns: cstring },
  ioperm_open: { args: [u32], returns: i32 },
  ioperm_grant: { args: [u32, u32], returns: i32 },
  ioperm_grant_all: { args: [], returns: i32 },
  ioperm_release: { args: [u32, u32], returns: i32 },
  ioperm_thread_backend: { args: [], returns: i32 },
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
  ioperm_driver_version: { args: [ptr], returns: i32 },
  ioperm_driver_install: { args: [ptr, u32], returns: i32 },
  ioperm_driver_uninstall: { args: [], returns: i32 },
  ioperm_driver_status: { args: [], returns: i32 },
  ioperm_nop: { args: [u32, u32], returns: i32 },
  ioperm_bench_in: { args: [u32, u32, u32], returns: i64_fast },
  ioperm_bench_out: { args: [u32, u32, u32, u32], returns: i32 },
  ioperm_nop_batch: { args: [ptr, u32, ptr], returns: i32 },
} as const;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Where the library is looked for: $IOPERM_LIB, else the Zig build output. */
export function libraryPath(): string {
  const override = process.env.IOPERM_LIB;
  if (override) return override;
  const file = process.platform === "win32" ? "ioperm.dll" : `libioperm.${suffix}`;
  return join(root, "zig", "zig-out", process.platform === "win32" ? "bin" : "lib", file);
}

function load() {
  const path = libraryPath();
  if (process.arch !== "x64" && process.arch !== "ia32") {
    throw localError("LOAD_FAILED", `ioperm needs an x86 CPU; this is ${process.arch}`, "load");
  }
  if (!existsSync(path)) {
    throw localError(
      "LOAD_FAILED",
      `native library not found at ${path}: build it with \`npm run build\` (or set IOPERM_LIB to a built library)`,
      "load",
    );
  }
  let lib: ReturnType<typeof dlopen<typeof symbols>>;
  try {
    lib = dlopen(path, symbols);
  } catch (e) {
    throw localError(
      "LOAD_FAILED",
      `could not load ${path}: ${(e as Error).message}; rebuild it with \`npm run build\``,
      "load",
    );
  }
  const abi = lib.symbols.ioperm_abi_version();
  if (abi !== ABI_VERSION) {
    throw localError(
      "ABI_MISMATCH",
      `${path} has ABI version ${abi}, this lib/ expects ${ABI_VERSION}: rebuild it with \`npm run build\``,
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

/** errno of each backend's attempt at this thread's last failed grant. */
export function nativeDiagnosis(): { ioperm?: number; devport?: number } {
  const out = new Int32Array(2);
  native().ioperm_diagnose(out);
  return { ioperm: out[0] || undefined, devport: out[1] || undefined };
}
