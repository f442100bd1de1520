// How the provisioning STAND-IN throttles RegisterThing at R calls per second.
//
// AWS documents the token bucket as the algorithm behind its API throttling for EC2, ECS, ELB, RDS and Route 53
// (a bucket of `burst` tokens, one taken per call, refilled at the sustained rate; a call finding it empty is
// throttled). IoT Core's quota pages give only the rate, so 'token-bucket' with a burst of one second's worth is
// the default. 'sliding-window' (at most R calls in any window of max(1 s, 1/R)) is stricter: under bursty
// arrivals it admits less than R on average. It is kept so earlier measurements can be reproduced.
export type RateLimiterKind = 'token-bucket' | 'sliding-window';
export const RATE_LIMITER_KINDS: readonly RateLimiterKind[] = ['token-bucket', 'sliding-window'];

export interface RateLimiter {
  /** Admit one call at `nowMs` (a monotonic-enough clock in ms), or refuse it. */
  tryTake(nowMs: number): boolean;
}

export interface RateLimiterOptions {
  ratePerSecond: number;
  kind?: RateLimiterKind;
  /** token-bucket only: the bucket's size (default max(1, ratePerSecond), one second's worth). */
  burst?: number;
}

export function createRateLimiter(o: RateLimiterOptions): RateLimiter {
  if (!(o.ratePerSecond > 0) || !Number.isFinite(o.ratePerSecond))
    throw new Error(`rate limiter: ratePerSecond must be a positive number, got ${o.ratePerSecond}`);
  const kind = o.kind ?? 'token-bucket';
  if (kind === 'sliding-window') {
    if (o.burst !== undefined) throw new Error('rate limiter: burst applies to the token bucket only');
    return slidingWindow(o.ratePerSecond);
  }
  if (kind !== 'token-bucket')
    throw new Error(`rate limiter: kind must be one of ${RATE_LIMITER_KINDS.join(', ')}, got ${String(kind)}`);
  const burst = o.burst ?? Math.max(1, o.ratePerSecond);
  if (!(burst >= 1) || !Number.isFinite(burst))
    throw new Error(`rate limiter: burst must be a number >= 1, got ${burst}`);
  return tokenBucket(o.ratePerSecond, burst);
}

function tokenBucket(rate: number, burst: number): RateLimiter {
  let tokens = burst;
  let last = -Infinity;
  return {
    tryTake(now) {
      // A clock step back refills nothing (the bucket starts full, so the first call sees no refill either).
      if (now > last) tokens = Math.min(burst, tokens + ((now - last) / 1000) * rate);
      last = Math.max(last, now);
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

function slidingWindow(rate: number): RateLimiter {
  const windowMs = Math.max(1000, 1000 / rate);
  const max = Math.max(1, rate);
  const admitted: number[] = [];
  return {
    tryTake(now) {
      while (admitted.length && (admitted[0] as number) <= now - windowMs) admitted.shift();
      if (admitted.length >= max) return false;
      admitted.push(now);
      return true;
    },
  };
}
