// Runs inside Wine (bun.exe) inside the lab VM: a worker thread strobes bytes
// out of LPT1 through the driver as fast as it can while this thread closes the
// device under it (uninstallDriver), ROUNDS times, reinstalling in between. The
// worker's access must end in a typed NOT_GRANTED, never DRIVER_IO (an IOCTL
// sent to a closed handle) and never a crash. Prints one JSON line per round
// for test/lab/wine.race.lab.ts, which counts the bytes in the host LPT file.
//   bun.exe close-race.ts DLL SYS ROUNDS
const [dllPath, sysPath, rounds = "3"] = process.argv.slice(2);
if (!dllPath || !sysPath) throw new Error("usage: bun.exe close-race.ts DLL SYS ROUNDS");
process.env.IOPERM_LIB = dllPath;
export {};
const { installDriver, uninstallDriver } = await import("../../../lib/index.ts");

for (let round = 0; round < Number(rounds); round++) {
  const worker = new Worker(new URL("./close-race-worker.ts", import.meta.url).href);
  const counter = new Int32Array(new SharedArrayBuffer(4));
  /** The worker's next message. */
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => resolve(e.data as Record<string, unknown>);
      worker.onerror = (e: ErrorEvent) => reject(new Error(`worker: ${e.message}`));
    });
  await next(); // "ready": its handler is in place (a message sent earlier would be lost)
  const done = next();
  worker.postMessage({ counter, byte: 0x61 + round });
  // Close once the worker is well into its loop, so the close lands among its accesses.
  while (Atomics.load(counter, 0) < 10) await Bun.sleep(5);
  uninstallDriver();
  const result = await done;
  worker.terminate();
  installDriver(sysPath);
  console.log(JSON.stringify({ round, byte: 0x61 + round, ...result }));
}
