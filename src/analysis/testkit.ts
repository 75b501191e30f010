/**
 * Generated memory series for tests and scripts/verdict-dump.mjs (which loads the compiled file):
 * seeded noise, so a series is the same on every run.
 */
import { SeriesBuilder, type Series } from '../model/series';

const MiB = 1024 * 1024;

/** Deterministic noise in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples f(tSeconds) (MiB) every intervalMs (50) for durationS seconds, plus ±noiseMiB (0.2) of uniform noise. */
export function make(durationS: number, f: (tS: number) => number, opts: { intervalMs?: number; noiseMiB?: number; seed?: number } = {}): Series {
  const dt = opts.intervalMs ?? 50;
  const r = rng(opts.seed ?? 1);
  const b = new SeriesBuilder('synthetic');
  for (let t = 0; t <= durationS * 1000; t += dt) {
    const v = f(t / 1000) + (opts.noiseMiB ?? 0.2) * (2 * r() - 1);
    b.push(t, Math.max(0, v) * MiB);
  }
  return b.build();
}

/** A sawtooth: from 0, rising by `amp` over each period, then released. */
export const saw = (tS: number, periodS: number, amp: number): number => ((tS % periodS) / periodS) * amp;
