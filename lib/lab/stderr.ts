// The guest command's stderr, streamed from the run dir to the host as it grows
// (lib/lab/init.sh writes it there; COM1, the console, carries its stdout).
import { closeSync, constants, openSync, readSync, rmSync } from "node:fs";

/** How often the guest command's stderr file is read while it runs. */
const stderrPollMs = 20;

/**
 * Streams the guest command's stderr to `sink`: the guest's /init writes it to
 * <run>/stderr, which the run dir's uncached 9p share puts on the host as it is
 * written, so the host reads what is new until `stop`, which drains the rest
 * and returns all of it. A file an earlier run left there goes first.
 */
export function streamStderr(path: string, sink: (text: string) => void): { stop: () => string } {
  let fd: number | undefined;
  let at = 0;
  let all = "";
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(65536);
  rmSync(path, { force: true });
  const drain = () => {
    if (fd === undefined) {
      try {
        fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      } catch {
        return; // not written yet
      }
    }
    for (let n = readSync(fd, chunk, 0, chunk.length, at); n > 0; n = readSync(fd, chunk, 0, chunk.length, at)) {
      at += n;
      const text = decoder.decode(chunk.subarray(0, n), { stream: true });
      all += text;
      if (text) sink(text);
    }
  };
  const timer = setInterval(drain, stderrPollMs);
  return {
    stop() {
      clearInterval(timer);
      drain();
      const rest = decoder.decode();
      if (rest) sink(rest);
      if (fd !== undefined) closeSync(fd);
      return all + rest;
    },
  };
}
