// Runs inside Wine under bun.exe: the bus locks are the named mutexes other
// hardware tools share. Two child bun.exe processes (test/fixtures/bus-lock-writer.ts)
// are started at once and write their text into one file, each under the same
// bus lock; then a holder is killed while it holds the lock and another process
// takes it. Prints one JSON line per step for test/windows/lock.test.ts. No port
// is touched: the lock is the thing under test, the file its witness.
//   bun.exe lock.ts DLL DIR
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { out as say } from "./steps.ts";

const [dllPath, dir] = process.argv.slice(2);
if (!dllPath || !dir) throw new Error("usage: bun.exe lock.ts DLL DIR");
const env = { ...process.env, IOPERM_LIB: dllPath };
const fixture = join(import.meta.dir, "..", "..", "fixtures", "bus-lock-writer.ts");
const writer = (...args: string[]) =>
  Bun.spawn([process.execPath, fixture, ...args], { env, stdin: "pipe", stdout: "pipe", stderr: "inherit" });

/** The next line a child printed. */
async function line(p: ReturnType<typeof writer>, reader = p.stdout.getReader()): Promise<string> {
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    if (text.includes("\n")) break;
  }
  reader.releaseLock();
  return text.trim();
}

async function race(file: string, buses: [string, string]): Promise<string> {
  const ws = buses.map((bus, i) => writer(bus, "20000", file, (i ? "B" : "A").repeat(30), "go"));
  for (const w of ws) await line(w);
  for (const w of ws) {
    w.stdin.write("go\n");
    w.stdin.flush();
  }
  for (const w of ws) await w.exited;
  return readFileSync(file, "utf8");
}

say("same-bus", { file: await race(join(dir, "same.txt"), ["smbus", "smbus"]) });
say("different-buses", { file: await race(join(dir, "apart.txt"), ["pci", "ec"]) });

const holder = writer("isa", "0", join(dir, "held.txt"), "A", "hold");
const held = await line(holder);
const refused = writer("isa", "0", join(dir, "held.txt"), "B");
const refusedSays = await line(refused);
await refused.exited;
holder.kill();
await holder.exited;
const after = writer("isa", "5000", join(dir, "held.txt"), "C");
const afterSays = await line(after);
await after.exited;
say("holder-killed", { held, refused: JSON.parse(refusedSays), after: afterSays, file: readFileSync(join(dir, "held.txt"), "utf8") });
