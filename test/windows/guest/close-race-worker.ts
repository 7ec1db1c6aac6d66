// The worker of close-race.ts: grants LPT1 and strobes `byte` out of it
// until an access fails, counting the bytes that went out in `counter` (shared
// with the closing thread); then reports the count and the failure's code.
export {};
const { IopermError, open } = await import("../../../lib/index.ts");

declare const self: { onmessage: (e: MessageEvent) => void; postMessage(data: unknown): void };
self.onmessage = (e: MessageEvent) => {
  const { counter, byte } = e.data as { counter: Int32Array; byte: number };
  const io = open({ backend: "driver" });
  io.grant(0x378, 3);
  let sent = 0;
  let code: unknown = null;
  try {
    // QEMU's parallel port writes the data latch to its file when STROBE rises (control 0x0c -> 0x0d), so
    // the loop starts from STROBE low (an earlier round may have been cut off with it high) and counts
    // a byte as sent once the rising write returned.
    io.outb(0x37a, 0x0c);
    for (;;) {
      io.outb(0x378, byte);
      io.outb(0x37a, 0x0d);
      Atomics.store(counter, 0, ++sent);
      io.outb(0x37a, 0x0c);
    }
  } catch (err) {
    code = err instanceof IopermError ? err.code : `${(err as Error).name}: ${(err as Error).message}`;
  }
  self.postMessage({ sent, code, grants: io.grants() });
};
self.postMessage("ready");
