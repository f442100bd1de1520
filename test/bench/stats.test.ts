// The numbers the benches print: medians, percentiles, and the interval bench:agent judges its target by.
import t from 'tap';
import { median, medianInterval, percentile, verdict } from '../../bench/stats.ts';

t.test('median: middle sample, or the mean of the two middle ones; refuses no samples', async (t) => {
  t.equal(median([5, 1, 3]), 3);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([7]), 7);
  t.throws(() => median([]), /no samples/);
});

t.test('percentile: nearest rank, 100 is the maximum, 0 for no samples', async (t) => {
  const xs = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
  t.equal(percentile(xs, 50), 60);
  t.equal(percentile(xs, 90), 100);
  t.equal(percentile(xs, 100), 100);
  t.equal(percentile(xs, 0), 10);
  t.equal(percentile([], 50), 0);
});

t.test('medianInterval: holds the median, stays within the samples, same samples give the same interval', async (t) => {
  const xs = [142, 151, 166, 139, 158, 171, 149, 160, 133, 155, 147, 176, 152, 144, 163];
  const i = medianInterval(xs, 0.9);
  t.ok(i.low <= median(xs) && median(xs) <= i.high, `${i.low} <= ${median(xs)} <= ${i.high}`);
  t.ok(i.low >= Math.min(...xs) && i.high <= Math.max(...xs));
  t.ok(i.low < i.high, 'spread samples give a real interval');
  t.same(medianInterval(xs, 0.9), i);
  const wider = medianInterval(xs, 0.99);
  t.ok(wider.low <= i.low && wider.high >= i.high, 'a higher level never gives a narrower interval');
});

t.test('medianInterval: identical samples leave nothing to doubt; more samples narrow it', async (t) => {
  t.same(medianInterval([150, 150, 150, 150, 150]), { low: 150, high: 150 });
  const noisy = [120, 180, 135, 165, 150, 128, 172, 141, 159];
  const few = medianInterval(noisy);
  const many = medianInterval([...noisy, ...noisy, ...noisy, ...noisy, ...noisy, ...noisy]);
  t.ok(many.high - many.low < few.high - few.low, `${many.high - many.low} < ${few.high - few.low}`);
});

t.test('medianInterval: refuses no samples and a level outside (0, 1)', async (t) => {
  t.throws(() => medianInterval([]), /no samples/);
  t.throws(() => medianInterval([1, 2], 1), /level/);
  t.throws(() => medianInterval([1, 2], 0), /level/);
});

t.test('verdict: OK only when the whole interval is under the target, OVER when none of it is', async (t) => {
  t.equal(verdict({ low: 120, high: 149 }, 150), 'OK');
  t.equal(verdict({ low: 120, high: 150 }, 150), 'UNDECIDED');
  t.equal(verdict({ low: 140, high: 160 }, 150), 'UNDECIDED');
  t.equal(verdict({ low: 150, high: 170 }, 150), 'OVER');
  t.equal(verdict(medianInterval([100, 101, 102, 103, 104]), 150), 'OK');
  t.equal(verdict(medianInterval([200, 201, 202, 203, 204]), 150), 'OVER');
});
