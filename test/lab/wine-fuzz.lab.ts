// ioperm.sys fuzzed with real port I/O: Wine in the lab VM, winedevice holding
// iopl(3) (test/windows/lab-wine.ts), and iopermfuzz without steering, so
// every request the driver accepts runs against QEMU's devices. The host-side
// fuzz (test/windows/fuzz.test.ts) can only send requests that must be refused.
//
// Witnesses: the host debugcon file grows by exactly the number of outb 0xE9
// the driver reported as run (iopermfuzz counts them from the verdicts),
// counted up to a marker sent afterwards through the same device, so bytes
// that arrive late are counted too and the wait ends on an event; an
// op the driver ran outside the allowlist could reach isa-debug-exit (0xF4,
// among the fuzzed ports) and end the VM; a marker BATCH sent afterwards from
// another process arrives in the debugcon file.
// Same host preparation as wine.lab.ts, so the same VM:
// @lab-host-prepare sh scripts/windows/lab-prefix.sh
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { iopermctl, labWine, WineSession, wineDir, winPath } from "../windows/lab-wine.ts";
import { batch, type CtlResult, h, ioctl, jsonLines, op, reply } from "../windows/wine.ts";
import { fuzzCount, fuzzSeeds, PER_SEED, replayCommand } from "../fuzz.ts";
import { eventually, hostFile } from "./witness.ts";

const info = labWine();
const why = typeof info === "string" ? info : null;
const fuzzExe = join(dirname(iopermctl), "iopermfuzz.exe");
const seeds = fuzzSeeds();
/** Per seed (Wine under TCG: ~8 s for 2,500; the host fuzz does twenty thousand per seed). */
const count = fuzzCount("IOPERM_FUZZ_IOCTLS", PER_SEED.labIoctls, PER_SEED.labIoctls);
const W = h.IOPERM_OP_WRITE!;

interface Counts {
  op: "counts";
  n: number;
  broken: number;
  alive: boolean;
  e9_bytes: number;
  verdicts: number[];
}

let session: WineSession;

/** Writes `text` to debugcon (0xE9) through the driver in one BATCH from a fresh iopermctl process; whether it ran whole. */
function sendToDebugcon(text: string): boolean {
  const ops = [...new TextEncoder().encode(text)].map((ch) => op(0xe9, 1, W, ch));
  const file = join(wineDir(), `debugcon-${Bun.hash(text).toString(16)}.txt`);
  writeFileSync(file, `${["open rw", ioctl("BATCH", batch(ops), 16 + 8 * ops.length)].join("\n")}\n`);
  const [opened, b] = jsonLines<CtlResult>(session.run(iopermctl, ["script", winPath(file)]).lines);
  return (
    opened?.ok === true &&
    b !== undefined &&
    reply(b).getInt32(4, true) === h.IOPERM_RESULT_OK! &&
    reply(b).getUint32(8, true) === ops.length
  );
}

describe.skipIf(why !== null)(`ioperm.sys fuzzed with real port I/O in the lab VM${why ? ` (skipped: ${why})` : ""}`, () => {
  beforeAll(() => {
    if (typeof info === "string") throw new Error(info); // unreachable: the describe is skipped then
    session = new WineSession(info);
    session.start();
  }, 180_000);
  afterAll(() => session?.stop());

  for (const { seed, kind } of seeds) {
    test(`seed ${seed} (${kind}): ${count} random IOCTLs, unsteered: every accepted request runs, and debugcon received exactly the bytes the driver said it wrote`, async () => {
      const before = hostFile("debugcon").length;
      const t0 = performance.now();
      const run = session.run(fuzzExe, ["ioctl-unsteered", String(seed), String(count)]);
      const seconds = (performance.now() - t0) / 1000;
      const counts = jsonLines<Counts | { op: string }>(run.lines).find((l): l is Counts => l.op === "counts");
      expect({ exit: run.code, counts: counts !== undefined }).toEqual({ exit: 0, counts: true });
      const c = counts!;
      console.log(
        `lab fuzz: ${c.n} IOCTLs in ${seconds.toFixed(1)} s (seed ${seed}, ${kind}; replay: ${replayCommand(seed, "test/lab/wine-fuzz.lab.ts")}), ${c.broken} broke a rule; ` +
          `verdicts OK ${c.verdicts[0]}, NOT_ALLOWED ${c.verdicts[1]}, BAD_WIDTH ${c.verdicts[2]}, BAD_OP ${c.verdicts[3]}, RANGE ${c.verdicts[4]}, TIMEOUT ${c.verdicts[5]}, TOO_LONG ${c.verdicts[6]}; ` +
          `${c.e9_bytes} bytes to debugcon`,
      );
      for (const l of jsonLines<{ op: string }>(run.lines).filter((l) => l.op === "broken"))
        console.log(`lab fuzz: broken ${JSON.stringify(l)}`);
      expect({ broken: c.broken, alive: c.alive }).toEqual({ broken: 0, alive: true });
      expect(c.verdicts[0]).toBeGreaterThan(0); // some requests did run
      expect(c.e9_bytes).toBeGreaterThan(0); // and the witness below has something to count
      // The marker goes through the same device after the fuzz: once it is in the file, every byte before it is too.
      const marker = `end of fuzz seed ${seed}\n`;
      expect(sendToDebugcon(marker)).toBe(true);
      const file = await eventually(
        () => hostFile("debugcon").toString("latin1"),
        (t) => t.indexOf(marker, before) >= 0,
        60_000,
      );
      expect(file.indexOf(marker, before) - before).toBe(c.e9_bytes);
    }, 600_000);
  }

  test("afterwards a valid BATCH from another process still runs (witness: the host debugcon file), and LPT1's control register is put back", async () => {
    const marker = `after the fuzz ${process.pid}\n`;
    const ops = [...new TextEncoder().encode(marker)].map((ch) => op(0xe9, 1, W, ch));
    const file = join(wineDir(), "fuzz-after.txt");
    // The fuzz wrote random values to LPT1's control register (0x37A); 0x0C is its idle value (wine.lab.ts strobes around it).
    writeFileSync(
      file,
      `${["open rw", ioctl("BATCH", batch(ops), 16 + 8 * ops.length), ioctl("WRITE", op(0x37a, 1, W, 0x0c), 8)].join("\n")}\n`,
    );
    const [opened, b, lpt] = jsonLines<CtlResult>(session.run(iopermctl, ["script", winPath(file)]).lines);
    expect(opened?.ok).toBe(true);
    expect({ result: reply(b!).getInt32(4, true), index: reply(b!).getUint32(8, true) }).toEqual({
      result: h.IOPERM_RESULT_OK!,
      index: ops.length,
    });
    expect(reply(lpt!).getInt32(0, true)).toBe(h.IOPERM_RESULT_OK!);
    const debugcon = await eventually(
      () => hostFile("debugcon").toString("latin1"),
      (s) => s.includes(marker),
    );
    expect(debugcon).toContain(marker);
  }, 120_000);
});
