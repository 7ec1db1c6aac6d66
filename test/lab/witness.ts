// Independent witnesses for lab tests: what the guest kernel and QEMU's host-side
// files say, read without the library under test.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const inLab = process.env.IOPERM_LAB === "1";

/** Host files QEMU's chardevs write, visible in the guest at the same path. */
export function labFiles(): Record<string, string> {
  const run = process.env.IOPERM_LAB_RUN;
  if (!run) throw new Error("IOPERM_LAB_RUN is not set: lab tests run inside the lab VM (bun run lab)");
  return JSON.parse(readFileSync(join(run, "files.json"), "utf8")) as Record<string, string>;
}

export function hostFile(name: string): Buffer {
  const path = labFiles()[name];
  if (!path) throw new Error(`no lab chardev file named ${name}`);
  return readFileSync(path);
}

/** PCI functions the guest kernel enumerated: "00:01.1 8086:7010". */
export function sysPciDevices(): string[] {
  const dir = "/sys/bus/pci/devices";
  return readdirSync(dir)
    .map((d) => {
      const id = (f: string) =>
        readFileSync(join(dir, d, f), "utf8")
          .trim()
          .replace(/^0x/, "");
      const [, bus, dev, fn] = /^[0-9a-f]{4}:([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(d) ?? [];
      return `${bus}:${dev}.${fn} ${id("vendor")}:${id("device")}`;
    })
    .sort();
}

/** /proc/ioports lines naming `who` (e.g. "rtc0", "serial"). */
export function ioportsClaims(): { from: number; to: number; name: string }[] {
  return readFileSync("/proc/ioports", "utf8")
    .split("\n")
    .map((l) => /^\s*([0-9a-f]+)-([0-9a-f]+) : (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ from: Number.parseInt(m[1] ?? "", 16), to: Number.parseInt(m[2] ?? "", 16), name: m[3] ?? "" }));
}

/** Debian's ioport tools (their own ioperm, their own in/out) in another process; the value they print, as a number. */
export function debianIo(tool: "inb" | "inw" | "inl" | "outb" | "outw" | "outl", ...args: number[]): number {
  const r = Bun.spawnSync([tool, ...args.map((a) => `0x${a.toString(16)}`)], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${tool} ${args.join(" ")}: ${r.stderr}`);
  return Number(r.stdout.toString().trim() || "0");
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `f` holds, for host files that QEMU writes asynchronously. */
export async function eventually<T>(f: () => T, ok: (v: T) => boolean, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  let v = f();
  while (!ok(v) && Date.now() < end) {
    await sleep(20);
    v = f();
  }
  return v;
}

/**
 * The CMOS RTC as the guest kernel's own driver reads it (rtc-cmos,
 * /sys/class/rtc/rtc0/since_epoch), in ms: an independent reader of the same
 * clock, which neither boot-time rounding nor the guest clock's drift under a
 * loaded TCG host can move.
 */
export function kernelRtcMs(): number {
  return Number(readFileSync("/sys/class/rtc/rtc0/since_epoch", "utf8").trim()) * 1000;
}

/**
 * Reads the RTC between two readings of it by the guest kernel (kernelRtcMs)
 * and says whether ours lies between them: all three are whole seconds of one
 * clock, so [before, after] holds exactly, and no window depends on how long
 * the read takes.
 */
export function bracketClock<T>(
  read: () => T,
  toMs: (value: T) => number,
): { value: T; before: number; rtc: number; after: number; within: boolean } {
  const before = kernelRtcMs();
  const value = read();
  const after = kernelRtcMs();
  const rtc = toMs(value);
  return { value, before, rtc, after, within: rtc >= before && rtc <= after };
}

/** Reads `stream` line by line, so a test can wait for a process's next line instead of sleeping. */
export function lineReader(stream: ReadableStream<Uint8Array>): { next: () => Promise<string | undefined>; seen: string[] } {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const seen: string[] = [];
  let buffer = "";
  return {
    seen,
    async next() {
      for (;;) {
        const nl = buffer.indexOf("\n");
        if (nl >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          seen.push(line);
          return line;
        }
        const { value, done } = await reader.read();
        if (done) {
          if (!buffer) return undefined;
          seen.push(buffer);
          return buffer;
        }
        buffer += value;
      }
    },
  };
}

/**
 * Writes to one parallel-port register (addr 0 data, 2 control) from QEMU's own
 * trace of parallel_ioport_write (a lab file with `// @lab-qemu-trace
 * parallel_ioport_write`): the host's time of each, in µs, and the value.
 */
export function parallelTraceWrites(addr: number): { us: number; value: number }[] {
  const log = labFiles().qemuTrace;
  if (!log) throw new Error("no QEMU trace in this run: the lab file needs `// @lab-qemu-trace parallel_ioport_write`");
  return [...readFileSync(log, "utf8").matchAll(/^\d+@(\d+)\.(\d+):parallel_ioport_write .*addr 0x([0-9a-f]+) val 0x([0-9a-f]+)/gm)]
    .filter((m) => Number.parseInt(m[3] ?? "", 16) === addr)
    .map((m) => ({ us: Number(m[1]) * 1e6 + Number(m[2]), value: Number.parseInt(m[4] ?? "", 16) }));
}
