// Small statistics for the benches: medians, percentiles, and how sure a median is against a target.
// This host's speed drifts by tens of ms between runs, so a single median says little about a target
// that sits within that drift; a bootstrap interval of the median says how far it could move.

export function median(xs: number[]): number {
  if (!xs.length) throw new Error('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Nearest-rank percentile (p in 0..100); 0 for no samples. */
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

/** mulberry32: a seeded generator, so the same samples always give the same interval. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Percentile bootstrap interval of the median: resample the samples with replacement, take each
 * resample's median, and return the central `level` share of those medians.
 */
export function medianInterval(xs: number[], level = 0.9, resamples = 4000, seed = 1): { low: number; high: number } {
  if (!xs.length) throw new Error('interval of no samples');
  if (!(level > 0 && level < 1)) throw new Error(`level must be between 0 and 1, got ${level}`);
  const rand = seeded(seed);
  const medians: number[] = [];
  const pick = new Array<number>(xs.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < xs.length; i++) pick[i] = xs[Math.floor(rand() * xs.length)] as number;
    medians.push(median(pick));
  }
  medians.sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  return {
    low: medians[Math.floor(tail * (resamples - 1))] as number,
    high: medians[Math.ceil((1 - tail) * (resamples - 1))] as number,
  };
}

export type Verdict = 'OK' | 'OVER' | 'UNDECIDED';

/** Against an upper-bound target: OK when the whole interval is under it, OVER when all of it is at or above it. */
export function verdict(interval: { low: number; high: number }, target: number): Verdict {
  if (interval.high < target) return 'OK';
  if (interval.low >= target) return 'OVER';
  return 'UNDECIDED';
}
