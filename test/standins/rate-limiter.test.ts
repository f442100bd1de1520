// The provisioning stand-in's RegisterThing throttle, on a synthetic clock.
import t from 'tap';
import { createRateLimiter } from '../../standins/provisioning/rate-limiter.ts';

/** Offer one call every `everyMs` from 0 to `untilMs` (inclusive); return the admitted times. */
function offer(l: ReturnType<typeof createRateLimiter>, everyMs: number, untilMs: number): number[] {
  const admitted: number[] = [];
  for (let now = 0; now <= untilMs; now += everyMs) if (l.tryTake(now)) admitted.push(now);
  return admitted;
}

t.test('token bucket (default): a full bucket of max(1, R) at once, then R per second', async (t) => {
  const l = createRateLimiter({ ratePerSecond: 2 });
  t.same([l.tryTake(0), l.tryTake(0), l.tryTake(0)], [true, true, false], 'two at once, the third throttled');
  t.equal(l.tryTake(400), false, '0.8 tokens after 400 ms');
  t.equal(l.tryTake(500), true, 'one token after 500 ms');
  t.equal(l.tryTake(600), false);
});

t.test('token bucket: under continuous demand it admits burst + R*t, never more', async (t) => {
  const l = createRateLimiter({ ratePerSecond: 2 });
  const admitted = offer(l, 10, 10_000);
  t.equal(admitted.length, 2 + 20, '10 s of calls every 10 ms: 2 at start + 2/s');
  // any 1 s window holds at most burst + R = 4 (the bucket's tokens plus one second's refill)
  for (const a of admitted) t.ok(admitted.filter((b) => b >= a && b < a + 1000).length <= 4);
});

t.test('token bucket: after a pause it admits the saved-up burst, no more than the bucket holds', async (t) => {
  const l = createRateLimiter({ ratePerSecond: 2 });
  offer(l, 10, 3000);
  const after = [60_000, 60_000, 60_000].map((now) => l.tryTake(now));
  t.same(after, [true, true, false], 'a minute idle refills the bucket to 2, not 120');
});

t.test('token bucket: rate below 1/s spaces calls 1/R apart; a bigger burst is honoured', async (t) => {
  const slow = createRateLimiter({ ratePerSecond: 0.5 });
  t.same(
    [0, 1200, 2200, 2300].map((n) => slow.tryTake(n)),
    [true, false, true, false],
  );
  const big = createRateLimiter({ ratePerSecond: 1, burst: 5 });
  t.equal([0, 0, 0, 0, 0, 0].filter((n) => big.tryTake(n)).length, 5, 'burst 5: five at once');
});

t.test('sliding window: at most R in any window, so less than the bucket under the same demand', async (t) => {
  const l = createRateLimiter({ ratePerSecond: 2, kind: 'sliding-window' });
  t.same(
    [l.tryTake(0), l.tryTake(0), l.tryTake(500)],
    [true, true, false],
    'the bucket would admit the call at 500 ms',
  );
  t.equal(l.tryTake(1000), true, 'the first call left the window');
  const w = createRateLimiter({ ratePerSecond: 2, kind: 'sliding-window' });
  const admitted = offer(w, 10, 10_000);
  for (const a of admitted) t.ok(admitted.filter((b) => b >= a && b < a + 1000).length <= 2);
  t.ok(admitted.length <= 22);
});

t.test('bad options are refused', async (t) => {
  t.throws(() => createRateLimiter({ ratePerSecond: 0 }), /ratePerSecond must be a positive number/);
  t.throws(() => createRateLimiter({ ratePerSecond: Number.NaN }), /ratePerSecond/);
  t.throws(() => createRateLimiter({ ratePerSecond: 1, burst: 0.5 }), /burst must be a number >= 1/);
  t.throws(
    () => createRateLimiter({ ratePerSecond: 1, kind: 'sliding-window', burst: 3 }),
    /burst applies to the token bucket only/,
  );
  t.throws(
    () => createRateLimiter({ ratePerSecond: 1, kind: 'leaky' as never }),
    /kind must be one of token-bucket, sliding-window/,
  );
});
