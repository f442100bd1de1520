// Logging (journal priority prefixes, secret redaction) and backoff (exponential, full jitter).
import t from 'tap';
import { createLogger, scrubSecrets, syslogPriority } from '../../agent/src/log.ts';
import { backoffCeiling, backoffDelay } from '../../agent/src/backoff.ts';
import { createDeviceRoot } from '../helpers/device-root.ts';
import { ensureBuilt, runAgent } from './exe.ts';
import { createCa, issueCertificate } from '../../standins/pki.ts';

const key = issueCertificate(createCa(), { commonName: 'x' }).privateKeyPem;

t.test('under systemd every line carries its syslog priority', async (t) => {
  const lines: string[] = [];
  const log = createLogger({ journal: true, write: (l) => lines.push(l), level: 'debug' });
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  log.fatal('f');
  t.same(lines.map((l) => l.slice(0, 3)), ['<7>', '<6>', '<4>', '<3>', '<2>']);
  t.equal(syslogPriority(50), 3);
  const plain: string[] = [];
  createLogger({ journal: false, write: (l) => plain.push(l) }).error('e');
  t.match(plain[0], /^\{"level":50/, 'no prefix outside systemd');
});

t.test('private keys and URL passwords never reach a log line', async (t) => {
  const lines: string[] = [];
  const log = createLogger({ journal: false, write: (l) => lines.push(l) });
  log.info({ privateKey: key }, 'field');
  log.info(`installer said: ${key}`);
  log.info({ nested: { proxyPassword: 'hunter2' } }, 'nested');
  log.info('proxy https://user:hunter2@proxy.local:3128 used');
  const all = lines.join('');
  t.notMatch(all, /BEGIN PRIVATE KEY/);
  t.notMatch(all, /hunter2/);
  t.notOk(all.includes(key.split('\n')[1] as string), 'no key body');
  t.match(all, /\[REDACTED/);
  t.equal(scrubSecrets('a\n' + key + 'b'), 'a\n[REDACTED PRIVATE KEY]\nb');
});

t.test('backoff: exponential ceiling, capped, full jitter', async (t) => {
  const o = { baseMs: 100, maxMs: 1000 };
  t.same([0, 1, 2, 3, 4, 10, 2000].map((a) => backoffCeiling(a, o)), [100, 200, 400, 800, 1000, 1000, 1000]);
  t.equal(backoffDelay(3, { ...o, random: () => 0 }), 0, 'full jitter goes down to 0');
  t.equal(backoffDelay(3, { ...o, random: () => 0.999999 }), 799);
  // A thousand clones retrying at once spread over the whole window instead of one instant.
  const delays = Array.from({ length: 1000 }, () => backoffDelay(4, o));
  const buckets = new Set(delays.map((d) => Math.floor(d / 100)));
  t.ok(buckets.size >= 9, `spread over ${buckets.size} of 10 100-ms buckets`);
  t.ok(delays.every((d) => d >= 0 && d < 1000));
});

t.test('the built agent under JOURNAL_STREAM prefixes priorities: journalctl -p err sees only the error', async (t) => {
  ensureBuilt();
  const root = createDeviceRoot({ hostname: 'localhost' });
  t.teardown(() => root.cleanup());
  const r = await runAgent(root, ['run'], { JOURNAL_STREAM: '8:12345' });
  t.equal(r.code, 3);
  const logLines = r.stderr.split('\n').filter((l) => l.startsWith('<'));
  t.ok(logLines.length >= 1);
  const errs = logLines.filter((l) => /^<[0-3]>/.test(l));
  t.equal(errs.length, 1, 'exactly one line at err or worse');
  t.match(errs[0], /"reason":"thing-name-denied"/);
});
