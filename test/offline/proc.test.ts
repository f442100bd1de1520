// The offline pipeline's process runner: a stage past its timeout is asked to stop (SIGTERM, so the builder can
// remove its staged claim key and packer its VM) before it is killed.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allOrStop, allowChildren, run } from '../../offline/proc.ts';

const quiet = () => undefined;

t.test('timeout: SIGTERM first; a stage that stops on it is not killed', async (t) => {
  const dir = t.testdir({});
  const mark = join(dir, 'term');
  const started = Date.now();
  const err = await run('sh', ['-c', `trap 'echo stopped > "${mark}"; exit 0' TERM; sleep 30 & wait`], {
    stage: 'bake',
    logFile: join(dir, 'log'),
    timeoutMs: 300,
    killGraceMs: 20_000,
    progress: quiet,
  }).then(
    () => null,
    (e: Error & { reason?: string }) => e,
  );
  t.match(err, { reason: 'timeout', message: /bake: sh timed out after 300 ms/ });
  t.equal(readFileSync(mark, 'utf8'), 'stopped\n', 'its SIGTERM handler ran');
  t.ok(Date.now() - started < 10_000, 'and it was not waited on for the kill grace');
});

t.test('timeout: a stage that ignores SIGTERM is SIGKILLed after the grace', async (t) => {
  const dir = t.testdir({});
  const mark = join(dir, 'term');
  const started = Date.now();
  const err = await run('sh', ['-c', `trap 'echo ignored > "${mark}"' TERM; while :; do sleep 0.1; done`], {
    stage: 'bake',
    logFile: join(dir, 'log'),
    timeoutMs: 300,
    killGraceMs: 700,
    progress: quiet,
  }).then(
    () => null,
    (e: Error & { reason?: string }) => e,
  );
  t.match(err, { reason: 'timeout' });
  t.ok(existsSync(mark), 'it got SIGTERM first');
  const took = Date.now() - started;
  t.ok(took >= 1000 && took < 10_000, `killed after the grace (${took} ms)`);
});

t.test('parallel work: one failure stops the others, even one that starts its process later', async (t) => {
  const dir = t.testdir({});
  const started = Date.now();
  const running = run('sleep', ['30'], { stage: 'boot a', logFile: join(dir, 'a'), progress: quiet });
  const failing = Promise.reject(new Error('overlay failed'));
  const late = new Promise((r) => setTimeout(r, 200)).then(() =>
    run('sleep', ['30'], { stage: 'boot b', logFile: join(dir, 'b'), progress: quiet }),
  );
  const err = await allOrStop([running, failing, late]).then(
    () => null,
    (e: unknown) => e as Error,
  );
  t.match(err?.message, /overlay failed/, 'the first failure is the one thrown');
  t.ok(Date.now() - started < 10_000, 'the running sleep was stopped, not waited out');
  t.match(await late.catch((e: Error) => e.message), /boot b: sleep: not started, the run is stopping/);
  allowChildren();
  t.equal(await run('true', [], { stage: 'next run', logFile: join(dir, 'c'), progress: quiet }), '', 'then allowed');
});
