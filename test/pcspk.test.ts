// examples/pc-speaker.ts in the lab VM with QEMU's PC speaker recorded to a WAV
// file (runLab's pcspk option): the tone's frequency, measured from the
// recording once QEMU has closed it, is the one asked for within 2%.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { runLab } from "../lib/lab/index.ts";

/** Frequency of the tone in a 16-bit PCM WAV: rising zero crossings of the first channel over the non-silent span. */
function toneHz(wav: Buffer): { hz: number; seconds: number } {
  const channels = wav.readUInt16LE(22);
  const rate = wav.readUInt32LE(24);
  const data = wav.indexOf("data", 12) + 8;
  const samples: number[] = [];
  for (let i = data; i + 2 <= wav.length; i += 2 * channels) samples.push(wav.readInt16LE(i));
  const first = samples.findIndex((v) => v !== 0);
  const last = samples.length - 1 - [...samples].reverse().findIndex((v) => v !== 0);
  const span = samples.slice(first, last + 1);
  const mean = span.reduce((a, b) => a + b, 0) / span.length;
  let rising = 0;
  for (let i = 1; i < span.length; i++) if ((span[i - 1] ?? 0) - mean < 0 && (span[i] ?? 0) - mean >= 0) rising++;
  return { hz: rising / (span.length / rate), seconds: span.length / rate };
}

test("pc-speaker.ts sounds 440 Hz and 1 kHz through PIT channel 2 (witness: QEMU pcspk's WAV, within 2%)", async () => {
  for (const hz of [440, 1000]) {
    const lab = await runLab({ command: ["bun", "examples/pc-speaker.ts", String(hz), "400"], pcspk: true, onOutput: () => {} });
    expect(lab.exitCode).toBe(0);
    const tone = toneHz(readFileSync(lab.files.pcspk ?? ""));
    expect(Math.abs(tone.hz - hz) / hz).toBeLessThan(0.02);
    expect(tone.seconds).toBeGreaterThan(0.3);
  }
}, 300_000);
