// Batches with bounded concurrency and an optional client-side rate limit. Items are pulled from an
// iterable as workers free up, and results are folded into counters (plus a capped list of
// failures), so memory does not grow with the batch size. After the first failure no new item is
// started (in-flight ones finish): the caller reports what is done and a re-run resumes.
import { UsageError } from '../../../common/errors.ts';

export const MAX_CONCURRENCY = 64;

/** `--concurrency` as every batch command accepts it: a whole number from 1 to MAX_CONCURRENCY. */
export function validateConcurrency(v: unknown, flag = '--concurrency'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_CONCURRENCY)
    throw new UsageError(`${flag} must be a whole number from 1 to ${MAX_CONCURRENCY}, got ${JSON.stringify(v)}`);
  return v;
}

export class RateLimiter {
  private next = 0;
  private readonly interval: number;
  constructor(perSecond: number) {
    this.interval = 1000 / perSecond;
  }

  /** Resolves when the caller may make one call: calls are spaced `1/perSecond` apart. */
  async acquire(): Promise<void> {
    const now = performance.now();
    const at = Math.max(now, this.next);
    this.next = at + this.interval;
    if (at > now) await new Promise((r) => setTimeout(r, at - now));
  }
}

export interface BatchFailure {
  item: string;
  error: Error;
}

export interface BatchResult<R extends string> {
  counts: Record<R, number>;
  failures: BatchFailure[];
  /** Items never started because an earlier item failed. */
  notStarted: number;
  total: number;
}

export interface BatchOptions {
  concurrency: number;
  /** Called after each item with the number done so far. */
  progress?: (done: number, total: number) => void;
  /** Keep going after a failure (default false: stop starting new items). */
  keepGoing?: boolean;
  maxFailuresKept?: number;
}

export async function runBatch<R extends string>(
  items: readonly string[],
  outcomes: readonly R[],
  worker: (item: string) => Promise<R>,
  o: BatchOptions,
): Promise<BatchResult<R>> {
  // NaN or 0 would start no worker and report an empty batch as done.
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1)
    throw new RangeError(`runBatch: concurrency must be a whole number >= 1, got ${o.concurrency}`);
  const counts = Object.fromEntries(outcomes.map((k) => [k, 0])) as Record<R, number>;
  const failures: BatchFailure[] = [];
  let failed = 0;
  let next = 0;
  let done = 0;
  const total = items.length;
  const lane = async () => {
    while (next < total && (o.keepGoing || failed === 0)) {
      const item = items[next++] as string;
      try {
        counts[await worker(item)] += 1;
      } catch (err) {
        failed += 1;
        if (failures.length < (o.maxFailuresKept ?? 20)) failures.push({ item, error: err as Error });
      }
      done += 1;
      o.progress?.(done, total);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, Math.max(1, total)) }, lane));
  return { counts, failures, notStarted: total - done, total };
}

/**
 * A progress bar on stderr for large batches: redrawn in place on a terminal, otherwise one line
 * per 10%. Small batches (< `minItems`) print nothing.
 */
export function progressBar(
  label: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
  minItems = 20,
): (done: number) => void {
  if (total < minItems) return () => undefined;
  const tty = stream.isTTY === true;
  let lastDecile = -1;
  let finished = false;
  const t0 = Date.now();
  return (done) => {
    const pct = Math.floor((done * 100) / total);
    const bar = `${'#'.repeat(Math.floor(pct / 5)).padEnd(20, '.')}`;
    const rate = done / Math.max(0.001, (Date.now() - t0) / 1000);
    const line = `greengrass-image: ${label} [${bar}] ${done}/${total} ${pct}% ${rate.toFixed(1)}/s`;
    if (tty) {
      stream.write(`\r${line}${done === total ? '\n' : ''}`);
    } else if ((Math.floor(pct / 10) !== lastDecile || done === total) && !finished) {
      lastDecile = Math.floor(pct / 10);
      finished = done === total;
      stream.write(`${line}\n`);
    }
  };
}
