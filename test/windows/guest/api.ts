// Runs inside Wine under bun.exe: the TypeScript API's win32 path for real
// (lib/ -> bun:ffi -> ioperm.dll -> DeviceIoControl -> ioperm.sys). Prints one
// JSON object per step for test/windows/dll.test.ts. Only paths that never run
// an in/out instruction belong here (Wine on this host has no iopl).
//   bun.exe api.ts DLL STEP...   (steps: see the switch below; install-held=PATH installs while PATH is open for writing)
const [dllPath, ...steps] = process.argv.slice(2);
if (!dllPath) throw new Error("usage: bun.exe api.ts DLL STEP...");
process.env.IOPERM_LIB = dllPath;
export {};
const { closeSync, openSync } = await import("node:fs");
const { driverStatus, driverVersion, installDriver, open, ops, uninstallDriver } = await import("../../../lib/index.ts");
const { out, run } = await import("./steps.ts");

const io = open();
for (const step of steps) {
  const [name = "", arg = ""] = step.split("=");
  switch (name) {
    case "version":
      run(step, () => ({ version: driverVersion() }));
      break;
    case "status":
      run(step, () => ({ state: driverStatus() }));
      break;
    case "install":
      run(step, () => ({ ...installDriver(arg) }));
      break;
    case "install-held": {
      // Another handle holds the driver open for writing, as a swap in progress would.
      const fd = openSync(arg, "r+");
      try {
        run(step, () => ({ ...installDriver(arg) }));
      } finally {
        closeSync(fd);
      }
      break;
    }
    case "uninstall":
      run(step, () => uninstallDriver());
      break;
    case "grant": {
      const [from = 0, count = 1] = arg.split(",").map(Number);
      run(step, () => {
        try {
          io.grant(from, count);
        } finally {
          out(`${step}:state`, { grants: io.grants(), granted: io.isGranted(from) });
        }
      });
      break;
    }
    case "grant-all":
      run(step, () => {
        io.grantAll();
        return {
          grants: io.grants(),
          granted: Object.fromEntries([0x80, 0x378, 0x3f8, 0x64, 0xcf8, 0xcf9].map((q) => [q, io.isGranted(q)])),
        };
      });
      break;
    case "release":
      run(step, () => {
        io.release();
        return { grants: io.grants() };
      });
      break;
    case "inb":
      run(step, () => ({ value: io.inb(Number(arg)) }));
      break;
    case "batch-inb": {
      // arg: port,port,... — all reads of 8 bits
      run(step, () => ({ values: io.batch(arg.split(",").map((p) => ops.inb(Number(p)))) }));
      break;
    }
    case "batch-timed":
      // Timed steps through the DLL: arg "over" passes the call cap (TOO_LONG, nothing sent),
      // "wait" is a wait on an ungranted port after a delay (NOT_GRANTED), "delays" only delays
      // (they run in the driver and touch no port).
      run(step, () => {
        const cap = Array.from({ length: 11 }, () => ops.delay(100_000));
        const list = arg === "over" ? cap : arg === "wait" ? [ops.delay(10), ops.wait(0x64, 2, 0, 1000)] : [ops.delay(500), ops.delay(0)];
        return { values: io.batch(list) };
      });
      break;
    case "batch-width":
      // A width the TypeScript layer must refuse before anything reaches the DLL.
      run(step, () => ({ values: io.batch([{ port: 0x378, width: 24 as 8, write: false, value: 0 }]) }));
      break;
    default:
      out(step, { rc: "unknown step" });
  }
}
