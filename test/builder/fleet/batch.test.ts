// builder/src/fleet: the batch runner (bounded concurrency, stop after a failure, counters only),
// the client-side rate limiter, thing-group and batch-name rules. Pure functions, no AWS.
import t from 'tap';
import { RateLimiter, runBatch, validateConcurrency } from '../../../builder/src/fleet/batch.ts';
import { batchNames, validateThingGroupName } from '../../../builder/src/fleet/names.ts';
import { UsageError } from '../../../common/errors.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('runBatch never has more than `concurrency` items in flight and counts outcomes', async (t) => {
  let inFlight = 0;
  let peak = 0;
  const items = Array.from({ length: 40 }, (_, i) => `i${i}`);
  const res = await runBatch(
    items,
    ['even', 'odd'] as const,
    async (item) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await sleep(2 + (Number(item.slice(1)) % 3));
      inFlight -= 1;
      return Number(item.slice(1)) % 2 === 0 ? 'even' : 'odd';
    },
    { concurrency: 5 },
  );
  t.equal(peak, 5);
  t.same(res.counts, { even: 20, odd: 20 });
  t.same([res.failures.length, res.notStarted, res.total], [0, 0, 40]);
});

t.test('runBatch stops starting items after a failure; in-flight ones finish', async (t) => {
  const started: string[] = [];
  const items = Array.from({ length: 20 }, (_, i) => `i${i}`);
  const res = await runBatch(
    items,
    ['ok'] as const,
    async (item) => {
      started.push(item);
      await sleep(5);
      if (item === 'i4') throw new Error('boom');
      return 'ok';
    },
    { concurrency: 2 },
  );
  t.equal(res.failures.length, 1);
  t.equal(res.failures[0]!.item, 'i4');
  t.equal(res.counts.ok + res.failures.length + res.notStarted, 20);
  t.ok(res.notStarted >= 14, `not started: ${res.notStarted}`);
  t.ok(started.length <= 6);
  const all = await runBatch(
    items,
    ['ok'] as const,
    async (item) => {
      if (item === 'i4') throw new Error('boom');
      return 'ok';
    },
    { concurrency: 2, keepGoing: true },
  );
  t.same([all.counts.ok, all.failures.length, all.notStarted], [19, 1, 0]);
});

t.test('concurrency: NaN, 0, fractions are refused, never a batch with no worker', async (t) => {
  for (const bad of [Number.NaN, 0, -1, 1.5]) {
    let ran = 0;
    await t.rejects(
      runBatch(['a', 'b'], ['ok'] as const, async () => ((ran += 1), 'ok' as const), { concurrency: bad }),
      RangeError,
      `runBatch refuses ${bad}`,
    );
    t.equal(ran, 0);
  }
  t.equal(validateConcurrency(1), 1);
  t.equal(validateConcurrency(64), 64);
  for (const bad of [Number.NaN, 0, 65, 2.5, '8', undefined]) {
    t.throws(() => validateConcurrency(bad), UsageError);
    t.throws(() => validateConcurrency(bad), /--concurrency must be a whole number from 1 to 64/);
  }
});

t.test('RateLimiter spaces calls 1/rate apart, even when many wait at once', async (t) => {
  const l = new RateLimiter(100);
  const t0 = performance.now();
  const at: number[] = [];
  await Promise.all(
    Array.from({ length: 21 }, async () => {
      await l.acquire();
      at.push(performance.now() - t0);
    }),
  );
  at.sort((a, b) => a - b);
  t.ok(at[20]! >= 195, `21 calls at 100/s take >= 200 ms (took ${at[20]!.toFixed(0)})`);
  t.ok(at[20]! < 600, 'and not much more');
});

t.test('thing-group names: checked before any call', async (t) => {
  t.equal(validateThingGroupName('Site_1-cores'), 'Site_1-cores');
  for (const [name, re] of [
    ['', /empty/],
    ['a:b', /':'/],
    ['Größe', /non-ASCII/],
    ['a'.repeat(129), /at most 128/],
    ['a b', /only \[a-zA-Z0-9_-\]/],
    ['a/b', /only/],
  ] as const) {
    t.throws(() => validateThingGroupName(name), UsageError);
    t.throws(() => validateThingGroupName(name), re);
  }
});

t.test(
  'batch names: --count/--prefix are stable and zero-padded; --names is validated with the ThingName rules',
  async (t) => {
    t.same(batchNames({ count: 3, prefix: 'core-' }), ['core-001', 'core-002', 'core-003']);
    t.same(batchNames({ count: 2, prefix: 'c', start: 999 }), ['c0999', 'c1000']);
    t.equal(batchNames({ count: 2000, prefix: 'b' }).at(-1), 'b2000');
    t.same(batchNames({ names: 'a, b,,c' }), ['a', 'b', 'c']);
    t.throws(() => batchNames({ names: 'a', count: 1, prefix: 'p' }), /either --names or --count/);
    t.throws(() => batchNames({ names: 'host.example.com' }), /FQDN/);
    t.throws(() => batchNames({ names: 'a:b' }), /AWS IoT does not allow|':'/);
    t.throws(() => batchNames({ count: 1.5, prefix: 'p' }), /whole number/);
    t.same(batchNames({ count: 2, prefix: 'c', start: 0 }), ['c000', 'c001']);
    for (const start of [Number.NaN, -1, 2.5])
      t.throws(() => batchNames({ count: 2, prefix: 'c', start }), /--start must be a whole number >= 0/);
  },
);
