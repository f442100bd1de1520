// Exponential backoff with full jitter: delay = random(0, min(max, base * 2^attempt)).
// A thousand clones booting at once spread their retries instead of hitting AWS in lockstep.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Injected for tests; defaults to Math.random. Must return [0, 1). */
  random?: () => number;
}

/** The ceiling for retry number `attempt` (0-based). */
export function backoffCeiling(attempt: number, opts: BackoffOptions): number {
  const exp = opts.baseMs * 2 ** Math.max(0, attempt);
  return Math.min(opts.maxMs, Number.isFinite(exp) ? exp : opts.maxMs);
}

/** Full-jitter delay for retry number `attempt` (0-based). */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const r = (opts.random ?? Math.random)();
  return Math.floor(r * backoffCeiling(attempt, opts));
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
