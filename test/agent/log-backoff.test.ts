// Logging (sentences, journal entries and fields, JSON with priority prefixes, secret redaction) and backoff (exponential, full jitter).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { fstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, logContext, privateKeyLineFilter, scrubSecrets, syslogPriority } from '../../agent/src/log.ts';
import { journalFieldName, journalStreamMatches } from '../../agent/src/journal.ts';
import { backoffCeiling, backoffDelay } from '../../agent/src/backoff.ts';
import { createDeviceRoot } from '../../harness/device-root.ts';
import { ensureBuilt, runAgent, tcpListener } from '../../harness/agent-exe.ts';
import { createCa, issueCertificate } from '../../standins/pki.ts';

const key = issueCertificate(createCa(), { commonName: 'x' }).privateKeyPem;

t.test('--log-format json under systemd: every line carries its syslog priority', async (t) => {
  const lines: string[] = [];
  const log = createLogger({ format: 'json', journal: true, write: (l) => lines.push(l), level: 'debug' });
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  log.fatal('f');
  t.same(
    lines.map((l) => l.slice(0, 3)),
    ['<7>', '<6>', '<4>', '<3>', '<2>'],
  );
  t.equal(syslogPriority(50), 3);
  const plain: string[] = [];
  createLogger({ format: 'json', journal: false, write: (l) => plain.push(l) }).error('e');
  t.match(plain[0], /^\{"level":50/, 'no prefix outside systemd');
});

t.test('under systemd: one native journal entry per event, its data as upper-case fields', async (t) => {
  const sent: Array<Array<[string, string]>> = [];
  const lines: string[] = [];
  const log = createLogger({ journal: true, write: (l) => lines.push(l), send: (f) => (sent.push(f), true) });
  logContext.thingName = 'branch-017';
  logContext.phase = 'install';
  t.teardown(() => {
    delete logContext.thingName;
    delete logContext.phase;
  });
  log.warn({ attempt: 2, retryInMs: 1500, reason: 'installer-failed' }, 'Installer attempt 2 of 3 failed');
  log.error({ reason: 'x', exitCode: 75, detail: 'two\nlines' }, 'It failed:\nsee above');
  t.same(lines, [], 'nothing on stderr');
  const [warn, err] = sent.map((f) => Object.fromEntries(f));
  t.match(warn, {
    MESSAGE: 'Installer attempt 2 of 3 failed',
    PRIORITY: '4',
    SYSLOG_IDENTIFIER: 'greengrass-firstboot',
    SYSLOG_PID: String(process.pid),
    THING_NAME: 'branch-017',
    PHASE: 'install',
    ATTEMPT: '2',
    RETRY_IN_MS: '1500',
    REASON: 'installer-failed',
  });
  t.match(err, { PRIORITY: '3', EXIT_CODE: '75', MESSAGE: 'It failed: | see above', DETAIL: 'two | lines' });
  t.notOk(
    sent.flat().some(([k]) => /^(LEVEL|TIME|PID|MSG)$/.test(k)),
    "pino's own keys are not fields",
  );
  t.same(['thingName', 'retryInMs', '_x', 'message', 'a.b', '9lives'].map(journalFieldName), [
    'THING_NAME',
    'RETRY_IN_MS',
    'X',
    'GG_MESSAGE',
    'A_B',
    'LIVES',
  ]);

  const fallback: string[] = [];
  createLogger({ journal: true, write: (l) => fallback.push(l), send: () => false }).error('no logger here');
  t.same(fallback, ['<3>no logger here\n'], 'without logger the stream gets the sentence with its priority');
});

t.test('on a terminal or a pipe: the same sentences, warnings and errors marked', async (t) => {
  const lines: string[] = [];
  const log = createLogger({ journal: false, write: (l) => lines.push(l), level: 'debug' });
  log.info({ thingName: 'branch-017' }, 'ThingName branch-017 taken from the hostname');
  log.warn('The clock is late');
  log.error({ reason: 'x' }, 'it failed');
  log.debug('detail');
  t.same(lines, [
    'ThingName branch-017 taken from the hostname\n',
    'warning: The clock is late\n',
    'error: it failed\n',
    'debug: detail\n',
  ]);
});

t.test('JOURNAL_STREAM is only believed when it names stderr (systemd.exec(7))', async (t) => {
  t.notOk(journalStreamMatches({ JOURNAL_STREAM: '8:12345' }), 'another stream');
  t.notOk(journalStreamMatches({}), 'unset');
  const st = fstatSync(2, { bigint: true });
  t.ok(journalStreamMatches({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }), "this process's stderr");
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
  t.same(
    [0, 1, 2, 3, 4, 10, 2000].map((a) => backoffCeiling(a, o)),
    [100, 200, 400, 800, 1000, 1000, 1000],
  );
  t.equal(backoffDelay(3, { ...o, random: () => 0 }), 0, 'full jitter goes down to 0');
  t.equal(backoffDelay(3, { ...o, random: () => 0.999999 }), 799);
  // A thousand clones retrying at once spread over the whole window instead of one instant.
  const delays = Array.from({ length: 1000 }, () => backoffDelay(4, o));
  const buckets = new Set(delays.map((d) => Math.floor(d / 100)));
  t.ok(buckets.size >= 9, `spread over ${buckets.size} of 10 100-ms buckets`);
  t.ok(delays.every((d) => d >= 0 && d < 1000));
});

t.test(
  'the built agent, stderr not the journal (JOURNAL_STREAM names another stream): sentences, the error once',
  async (t) => {
    ensureBuilt();
    const root = createDeviceRoot({ hostname: 'localhost' });
    t.teardown(() => root.cleanup());
    root.writeAgentConfig({ log: { format: 'auto' } });
    const r = await runAgent(root, ['run'], { JOURNAL_STREAM: '8:12345' });
    t.equal(r.code, 3);
    t.equal(
      r.stderr,
      'error: ThingName "localhost" is on the deny list: it cannot identify a single machine\n',
      'one sentence, no JSON, no priority prefix',
    );
  },
);

t.test('privateKeyLineFilter: a key read line by line is dropped from its BEGIN line to its END line', async (t) => {
  const ec = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\nAoGCCqGSM49\n-----END EC PRIVATE KEY-----';
  const lines = [
    'starting',
    ...key.trimEnd().split('\n'),
    'between',
    `inline ${key.trimEnd().replace(/\n/g, ' ')} after`,
    ...ec.split('\n'),
    'done',
  ];
  const keep = privateKeyLineFilter();
  const out = lines.map(keep).filter((l): l is string => l !== null);
  t.same(out, [
    'starting',
    '[REDACTED PRIVATE KEY]',
    'between',
    'inline [REDACTED PRIVATE KEY] after',
    '[REDACTED PRIVATE KEY]',
    'done',
  ]);
  const body = [...key.split('\n').slice(1, -2), 'MHcCAQEEIB', 'AoGCCqGSM49'];
  t.notOk(
    body.some((b) => out.join('\n').includes(b)),
    'no key body line passes',
  );
  // A key cut off by the end of the output: everything after its BEGIN line is dropped.
  const cut = privateKeyLineFilter();
  t.same(['a', ...key.split('\n').slice(0, 3)].map(cut), ['a', '[REDACTED PRIVATE KEY]', null, null]);
});

t.test('the built agent: an installer that prints the claim key leaves it in neither the log nor status', async (t) => {
  ensureBuilt();
  const endpoint = await tcpListener();
  t.teardown(() => endpoint.close());
  const root = createDeviceRoot({ endpoint: { host: '127.0.0.1', port: endpoint.port } });
  t.teardown(() => root.cleanup());
  // `java`: a real JVM for -version; as the installer, it prints the claim key to both streams and fails.
  const realJava = execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim();
  const java = join(root.dir, 'java');
  writeFileSync(
    java,
    `#!/bin/sh\n[ "$1" = -version ] && exec '${realJava}' "$@"\necho "loading claim"\ncat '${root.claimKeyPath}'\ncat '${root.claimKeyPath}' >&2\necho "Error while trying to setup Greengrass Nucleus" >&2\nexit 1\n`,
    { mode: 0o755 },
  );
  root.writeAgentConfig({ installer: { java, attempts: 1 } });
  // runAgent itself fails the test if any line of the claim key reaches the agent's stdout or stderr.
  const r = await runAgent(root, ['run']);
  t.equal(r.code, 75, 'the failed install is transient');
  t.match(r.stderr, /"msg":"Installer: \[REDACTED PRIVATE KEY\]"/, "the key's first line is logged redacted");
  t.match(r.stderr, /Error while trying to setup Greengrass Nucleus/, 'the lines after the key are logged');
  const keyBody = readFileSync(root.claimKeyPath, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'));
  const state = readFileSync(root.stateFile, 'utf8');
  t.match(JSON.parse(state).lastError, { reason: 'installer-failed' });
  t.notOk(
    keyBody.some((l) => state.includes(l)),
    'no key line in state.json',
  );
  const status = await runAgent(root, ['status']);
  t.notOk(
    keyBody.some((l) => status.stdout.includes(l)),
    'no key line in status',
  );
});
