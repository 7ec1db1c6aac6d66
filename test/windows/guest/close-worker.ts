// The worker thread of close.ts: grants 0x378 on "grant"; on "check" reports its
// own mirror (isGranted, grants()) and what inb(0x378) does.
export {};
const { IopermError, open } = await import("../../../lib/index.ts");
const io = open();

declare const self: { onmessage: (e: MessageEvent) => void; postMessage(data: unknown): void };
self.onmessage = (e: MessageEvent) => {
  if (e.data === "grant") {
    io.grant(0x378, 8);
    self.postMessage({ granted: io.isGranted(0x378), grants: io.grants() });
    return;
  }
  let inb: unknown = 0;
  try {
    io.inb(0x378);
  } catch (err) {
    inb = err instanceof IopermError ? err.code : String(err);
  }
  self.postMessage({ granted: io.isGranted(0x378), grants: io.grants(), inb });
};
self.postMessage("ready");
