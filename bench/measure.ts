/**
 * One timing, through mitata: warm-up, batching, percentiles. We only choose
 * how many calls go into one sample, because mitata's own choice does not hold
 * up here: it decides from the first two (cold) calls, and under TCG those are
 * slow enough that it stops batching, so every sample of a 40 ns call would
 * include two ~100 ns timer reads.
 */
import { measure } from "mitata";

export interface Timing {
  /** Calls of `fn` timed together as one sample (1 = each call timed alone). */
  callsPerSample: number;
  samples: number;
  /** Per call, in ns: percentiles over samples, each sample the mean of its calls. */
  p50: number;
  p99: number;
  avg: number;
  min: number;
  max: number;
}

export interface TimingOptions {
  /** Measured time per case (mitata's min_cpu_time), ms. */
  minTimeMs: number;
  /** Aim for samples this long, so the timer read (~20 ns host, ~100 ns TCG) stays under 1%. */
  targetSampleNs?: number;
}

/** mitata runs its batch loop 4 calls per iteration; a batch must be a multiple of that. */
const unroll = 4;
/** mitata's own largest batch. */
const maxBatch = 4096;

/** Per-call cost of a warm `fn`, rough: enough to size the batch. */
function estimateNs(fn: () => unknown): number {
  // The first calls pay for JIT tiers (and under TCG, translation); skip them.
  const warmUntil = Bun.nanoseconds() + 20e6;
  let calls = 0;
  while (Bun.nanoseconds() < warmUntil || calls < 3) {
    fn();
    calls++;
  }
  const n = Math.max(1, Math.min(1000, calls));
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) fn();
  return (Bun.nanoseconds() - t0) / n;
}

export async function time(fn: () => unknown, opts: TimingOptions): Promise<Timing> {
  const target = opts.targetSampleNs ?? 50_000;
  const per = estimateNs(fn);
  let batch = Math.min(maxBatch, Math.floor(target / Math.max(per, 1e-3)));
  batch = batch < unroll ? 1 : batch - (batch % unroll);
  const stats = await measure(fn, {
    min_cpu_time: opts.minTimeMs * 1e6,
    // Slow cases (a process per access) still get a dozen samples.
    min_samples: 12,
    batch_samples: Math.max(batch, unroll),
    batch_unroll: unroll,
    // Infinity: always batch; 0: never (see the file comment).
    batch_threshold: batch > 1 ? Number.POSITIVE_INFINITY : 0,
    warmup_threshold: Number.POSITIVE_INFINITY,
    warmup_samples: 2,
  });
  return {
    callsPerSample: stats.ticks / stats.samples.length,
    samples: stats.samples.length,
    p50: stats.p50,
    p99: stats.p99,
    avg: stats.avg,
    min: stats.min,
    max: stats.max,
  };
}
