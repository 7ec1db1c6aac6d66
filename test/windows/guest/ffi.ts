// Runs inside Wine under bun.exe: loads ioperm.dll through bun:ffi and prints
// one JSON object per step, for test/windows/dll.test.ts to check. Only paths
// that never execute an in/out instruction belong here (Wine has no iopl).
// Once lib/ loads ioperm.dll on Windows, this should go through lib/ instead.
//   bun.exe ffi.ts DLL STEP...
import { dlopen, FFIType, ptr } from "bun:ffi";

const [dllPath, ...steps] = process.argv.slice(2);
if (!dllPath) throw new Error("usage: bun.exe ffi.ts DLL STEP...");
const { i32, u32, ptr: p } = FFIType;
const lib = dlopen(dllPath, {
  ioperm_abi_version: { args: [], returns: u32 },
  ioperm_status_count: { args: [], returns: u32 },
  ioperm_status_at: { args: [u32, p], returns: FFIType.cstring },
  ioperm_driver_version: { args: [p], returns: i32 },
  ioperm_driver_status: { args: [], returns: i32 },
  ioperm_driver_install: { args: [p, u32], returns: i32 },
  ioperm_driver_uninstall: { args: [], returns: i32 },
  ioperm_grant: { args: [u32, u32], returns: i32 },
  ioperm_grant_all: { args: [], returns: i32 },
  ioperm_release: { args: [u32, u32], returns: i32 },
  ioperm_is_granted: { args: [u32, u32], returns: i32 },
  ioperm_thread_backend: { args: [], returns: i32 },
  ioperm_diagnose: { args: [p], returns: FFIType.void },
  ioperm_inb: { args: [u32], returns: i32 },
  ioperm_batch: { args: [p, u32, p], returns: i32 },
}).symbols;

const codes = new Map<number, string>();
for (let i = 0; i < lib.ioperm_status_count(); i++) {
  const code = new Int32Array(1);
  const name = lib.ioperm_status_at(i, ptr(code));
  codes.set(code[0]!, String(name));
}
const named = (rc: number) => (rc >= 0 ? rc : (codes.get(rc) ?? `errno ${-rc}`));
const diagnose = () => {
  const d = new Int32Array(2);
  lib.ioperm_diagnose(ptr(d));
  return d[0];
};
const out = (step: string, fields: Record<string, unknown>) => console.log(JSON.stringify({ step, ...fields }));

for (const step of steps) {
  const [name, arg] = step.split("=");
  switch (name) {
    case "version": {
      const v = new Uint32Array(6);
      const rc = lib.ioperm_driver_version(ptr(v));
      out(step, { rc: named(rc), win32: diagnose(), version: [...v], abi: lib.ioperm_abi_version() });
      break;
    }
    case "status":
      out(step, { rc: named(lib.ioperm_driver_status()), win32: diagnose() });
      break;
    case "install": {
      const path = Buffer.from(`${arg}\0`, "utf8");
      out(step, { rc: named(lib.ioperm_driver_install(ptr(path), 1)), win32: diagnose() });
      break;
    }
    case "uninstall":
      out(step, { rc: named(lib.ioperm_driver_uninstall()), win32: diagnose() });
      break;
    case "grant": {
      const [from, count] = arg!.split(",").map(Number);
      const rc = lib.ioperm_grant(from!, count!);
      out(step, { rc: named(rc), backend: lib.ioperm_thread_backend(), granted: lib.ioperm_is_granted(from!, 1) });
      break;
    }
    case "grant-all":
      out(step, {
        rc: named(lib.ioperm_grant_all()),
        backend: lib.ioperm_thread_backend(),
        granted: Object.fromEntries([0x80, 0x378, 0x3f8, 0x64, 0xcf8, 0xcf9].map((q) => [q, lib.ioperm_is_granted(q, 1)])),
      });
      break;
    case "release":
      out(step, { rc: named(lib.ioperm_release(0, 0)), backend: lib.ioperm_thread_backend() });
      break;
    case "inb":
      out(step, { rc: named(lib.ioperm_inb(Number(arg))) });
      break;
    case "batch": {
      // arg: port:width:flags,... (value 0)
      const ops = arg!.split(",").map((o) => o.split(":").map(Number));
      const buf = new DataView(new ArrayBuffer(8 * ops.length));
      ops.forEach(([port, width, flags], i) => {
        buf.setUint16(8 * i, port!, true);
        buf.setUint8(8 * i + 2, width!);
        buf.setUint8(8 * i + 3, flags!);
        buf.setUint32(8 * i + 4, 0, true);
      });
      const done = new Uint32Array([99]);
      const rc = lib.ioperm_batch(ptr(buf), ops.length, ptr(done));
      out(step, { rc: named(rc), index: done[0] });
      break;
    }
    default:
      out(step, { error: "unknown step" });
  }
}
