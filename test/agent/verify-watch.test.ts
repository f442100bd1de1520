// waitForProvisioning (agent/src/verify.ts) wakes on the nucleus's file changes instead of only polling:
// with a 20 s pollMs a tlog or log change is seen within well under a second, also when the config/ and logs/
// directories do not exist when the wait starts (it creates nothing); the fallback poll still finds changes when
// there is nothing to watch; and every watcher is closed on success, failure, timeout and abort.
// (The built executable's side of it: provision.test.ts, "event-driven verify".)
import t, { type Test } from 'tap';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGIN_FAILURE_LINE, bootTimeMs, pluginFailure, waitForProvisioning } from '../../agent/src/verify.ts';
import { identityTlogLines } from '../../harness/nucleus-identity.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Open fs.watch handles of this process (a closed handle is gone once the loop has run its close callbacks). */
const watchers = async () => {
  await sleep(20);
  return process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
};
/** What the nucleus records when the plugin succeeds (a ThingName alone does not count as provisioned). */
const tlogLine = (name: string) => identityTlogLines(name, '/greengrass/v2');

function tmpRoot(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'gg-verify-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test(
  'directories created after the wait started, then the tlog: seen at once with pollMs 20000; nothing created by the wait',
  async (t) => {
    const root = tmpRoot(t);
    const before = await watchers();
    const started = Date.now();
    const wait = waitForProvisioning({ rootPath: root, logOffset: 0, timeoutMs: 30_000, pollMs: 20_000 });
    await sleep(300);
    t.same(readdirSync(root), [], 'the wait created nothing');
    mkdirSync(join(root, 'logs'));
    appendFileSync(join(root, 'logs', 'greengrass.log'), 'nucleus starting\n');
    await sleep(300);
    mkdirSync(join(root, 'config'));
    await sleep(300);
    appendFileSync(join(root, 'config', 'config.tlog'), tlogLine('gg-watch-1'));
    const wroteAt = Date.now();
    const outcome = await wait;
    t.same(outcome, { status: 'provisioned', thingName: 'gg-watch-1' });
    t.ok(
      Date.now() - wroteAt < 1000,
      `seen ${Date.now() - wroteAt} ms after the tlog was written (pollMs 20000; ${Date.now() - started} ms in all)`,
    );
    t.equal(await watchers(), before, 'watchers closed');
  },
);

t.test('the plugin failure line in the log: seen at once with pollMs 20000, only after logOffset', async (t) => {
  const root = tmpRoot(t);
  mkdirSync(join(root, 'logs'));
  mkdirSync(join(root, 'config'));
  const log = join(root, 'logs', 'greengrass.log');
  const old = `2026-01-01T00:00:00Z [ERROR] ${PLUGIN_FAILURE_LINE}: an earlier attempt\n`;
  appendFileSync(log, old);
  const before = await watchers();
  const wait = waitForProvisioning({
    rootPath: root,
    logOffset: Buffer.byteLength(old),
    timeoutMs: 30_000,
    pollMs: 20_000,
  });
  await sleep(300);
  appendFileSync(join(root, 'logs', 'loader.log'), 'other logs do not count\n');
  appendFileSync(log, 'connecting\n');
  await sleep(300);
  appendFileSync(log, `2026-01-01T00:00:01Z [ERROR] ${PLUGIN_FAILURE_LINE}\nThrottlingException: Rate exceeded\n`);
  const wroteAt = Date.now();
  const outcome = await wait;
  t.equal(outcome.status, 'failed');
  t.equal(
    (outcome as { reason: string }).reason,
    'ThrottlingException: Rate exceeded',
    'the cause line after the failure line',
  );
  t.ok(Date.now() - wroteAt < 1000, `seen ${Date.now() - wroteAt} ms after the line was written`);
  t.equal(await watchers(), before, 'watchers closed');
});

t.test('timeout: returns at timeoutMs even with a longer pollMs; watchers closed', async (t) => {
  const root = tmpRoot(t);
  mkdirSync(join(root, 'logs'));
  const before = await watchers();
  const started = Date.now();
  const outcome = await waitForProvisioning({ rootPath: root, logOffset: 0, timeoutMs: 700, pollMs: 20_000 });
  const took = Date.now() - started;
  t.same(outcome, { status: 'timeout' });
  t.ok(took >= 650 && took < 3000, `timed out after ${took} ms`);
  t.equal(await watchers(), before, 'watchers closed');
});

t.test('abort: rejects with the reason at once; watchers closed', async (t) => {
  const root = tmpRoot(t);
  mkdirSync(join(root, 'config'));
  mkdirSync(join(root, 'logs'));
  const before = await watchers();
  const ac = new AbortController();
  const wait = waitForProvisioning({
    rootPath: root,
    logOffset: 0,
    timeoutMs: 30_000,
    pollMs: 20_000,
    signal: ac.signal,
  });
  await sleep(100);
  t.equal(await watchers(), before + 2, 'it watches config/ and logs/ while waiting');
  const started = Date.now();
  ac.abort(new Error('SIGTERM'));
  await t.rejects(wait, /SIGTERM/);
  t.ok(Date.now() - started < 500, 'at once');
  t.equal(await watchers(), before, 'watchers closed');
});

t.test('nothing to watch (the root does not exist yet): the fallback poll still finds the tlog', async (t) => {
  const parent = tmpRoot(t);
  const root = join(parent, 'v2');
  const wait = waitForProvisioning({ rootPath: root, logOffset: 0, timeoutMs: 10_000, pollMs: 300 });
  await sleep(200);
  mkdirSync(join(root, 'config'), { recursive: true });
  appendFileSync(join(root, 'config', 'config.tlog'), tlogLine('gg-watch-poll'));
  t.same(await wait, { status: 'provisioned', thingName: 'gg-watch-poll' });
});

t.test(
  'pluginFailure with a since-time: failure lines stamped before it are history, newer or unstamped ones count',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-since-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const log = join(dir, 'greengrass.log');
    const boot = Date.parse('2026-11-20T08:00:00.000Z');
    const line = (at: string, msg: string) =>
      `${at} [ERROR] (pool-1-thread-1) com.aws.greengrass.lifecyclemanager.KernelLifecycle: ${msg}\n`;
    writeFileSync(log, line('2026-11-19T22:00:00.000Z', `${PLUGIN_FAILURE_LINE}. {reason=an earlier boot}`));
    t.equal(pluginFailure(log, 0, boot), null, "the earlier boot's failure is not counted");
    t.match(
      pluginFailure(log, 0),
      /an earlier boot/,
      'without a since-time it is (as after a restart, from an offset)',
    );
    appendFileSync(log, line('2026-11-20T08:01:00.000Z', `${PLUGIN_FAILURE_LINE}. {reason=this boot}`));
    t.match(pluginFailure(log, 0, boot), /this boot/);
    writeFileSync(log, `${PLUGIN_FAILURE_LINE} (a line without a time)\n`);
    t.match(pluginFailure(log, 0, boot), /a line without a time/, 'an unstamped failure counts');
  },
);

t.test('bootTimeMs reads btime from /proc/stat; undefined without one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gg-btime-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'stat'), 'cpu  1 2 3\nbtime 1795500000\nprocesses 9\n');
  t.equal(bootTimeMs(join(dir, 'stat')), 1795500000 * 1000);
  t.equal(bootTimeMs(join(dir, 'missing')), undefined);
  const real = bootTimeMs();
  t.ok(real !== undefined && real < Date.now() && real > Date.parse('2000-01-01'), 'this machine has one');
});
