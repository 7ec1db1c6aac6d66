// Runs inside Wine under bun.exe: closing the device (uninstallDriver) takes
// every thread's grants with it, not only the closing thread's. A Worker (its
// own OS thread, so its own grant mirror in ioperm.dll) grants 0x378; the main
// thread uninstalls, reinstalls and reopens the device; then the worker reports
// what its mirror says and tries inb(0x378). Prints one JSON line per step for
// test/windows/lifetime.test.ts. Nothing here may reach an in/out: Wine on the
// host has no iopl, so an inb that reached the driver would kill winedevice.
//   bun.exe close.ts DLL INSTALLED_SYS
const [dllPath, sysPath] = process.argv.slice(2);
if (!dllPath || !sysPath) throw new Error("usage: bun.exe close.ts DLL INSTALLED_SYS");
process.env.IOPERM_LIB = dllPath;
export {};
const { driverVersion, installDriver, open, uninstallDriver } = await import("../../../lib/index.ts");
const { out: say } = await import("./steps.ts");

const worker = new Worker(new URL("./close-worker.ts", import.meta.url).href);
/** The worker's next message (after sending `msg`, if any). */
const ask = (msg?: string) =>
  new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent) => resolve(e.data as Record<string, unknown>);
    worker.onerror = (e: ErrorEvent) => reject(new Error(`worker: ${e.message}`));
    if (msg) worker.postMessage(msg);
  });
await ask(); // "ready": its handler is in place (a message sent earlier would be lost)

say("worker-grant", await ask("grant"));
const io = open();
io.grant(0x378, 8);
uninstallDriver();
say("main-after-uninstall", { granted: io.isGranted(0x378), grants: io.grants() });
installDriver(sysPath);
say("main-version", { protocol: driverVersion().protocol });
say("worker-check", await ask("check"));
worker.terminate();
