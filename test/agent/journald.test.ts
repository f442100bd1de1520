// The built agent under a real systemd-journald, read back with journalctl the way an operator types it. journald
// runs in a private mount namespace (harness/journald.ts); the agent's stderr is a journal stream with
// JOURNAL_STREAM naming it, as under the unit. Missing journald (or root) is a failure naming what is missing.
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { closedPort, ensureBuilt, EXE } from '../../harness/agent-exe.ts';
import { createDeviceRoot } from '../../harness/device-root.ts';
import {
  journaldUnavailable,
  startPrivateJournald,
  underJournalStream,
  type PrivateJournald,
} from '../../harness/journald.ts';

const ID = 'greengrass-firstboot';

/** A private journald for this test (stopped with it), or null after failing the test when none can run here. */
async function journaldFor(t: Test): Promise<PrivateJournald | null> {
  const missing = journaldUnavailable();
  if (missing) {
    t.fail(`cannot run the agent under a real journald: ${missing}`);
    return null;
  }
  ensureBuilt();
  const journald = await startPrivateJournald();
  t.teardown(() => journald.stop());
  return journald;
}

t.test('journalctl shows the run as sentences with fields to filter on, the failure once at err', async (t) => {
  const journald = await journaldFor(t);
  if (!journald) return;

  // branch-017 waits for an endpoint that never answers: warnings, progress, then the one failure (exit 75).
  const port = await closedPort();
  const root = createDeviceRoot({ hostname: 'branch-017', endpoint: { host: '127.0.0.1', port } });
  t.teardown(() => root.cleanup());
  root.writeAgentConfig({
    log: { format: 'auto', level: 'info', progressSeconds: 1 },
    preflight: { networkWaitSeconds: 3 },
  });
  const r = await journald.run(underJournalStream(ID, [EXE, 'run', '--config', root.configPath]), root.env);
  t.equal(r.code, 75, `the agent failed transiently; systemd-cat passes its exit code on (${r.stderr})`);

  const shown = await journald.journalctl(['-t', ID, '-o', 'cat']);
  const lines = shown.trim().split('\n');
  t.ok(lines.length >= 4, `several entries:\n${shown}`);
  t.notOk(
    lines.some((l) => /^\s*[{<]/.test(l)),
    'no JSON and no priority prefix: every line is a sentence',
  );
  t.match(shown, /^ThingName branch-017 taken from the hostname$/m);
  t.match(shown, /^The IoT data endpoint 127\.0\.0\.1:\d+ is unreachable \(.*\); retrying in [\d.]+ s$/m);
  const progress = lines.filter((l) => l.startsWith('Still waiting for the IoT data endpoint'));
  t.match(
    progress[0],
    /^Still waiting for the IoT data endpoint 127\.0\.0\.1:\d+, 1 s of 3$/,
    'progress while waiting',
  );
  t.ok(
    progress.length >= 1 && progress.length <= 3,
    `one progress line a second (log.progressSeconds 1): ${progress.length}`,
  );

  const errs = (await journald.journalctl(['-t', ID, '-p', 'err', '-o', 'cat'])).trim().split('\n');
  t.equal(errs.length, 1, `-p err shows one entry: ${errs.join(' / ')}`);
  t.match(errs[0], /^the IoT data endpoint 127\.0\.0\.1:\d+ is unreachable .* after waiting 3 s$/);

  const mine = (await journald.journalctl(['THING_NAME=branch-017', '-o', 'cat'])).trim().split('\n');
  t.equal(mine.length, lines.length, 'THING_NAME=branch-017 finds every entry of the run');
  const failure = await journald.journalctl(['REASON=endpoint-unreachable', 'EXIT_CODE=75', '-o', 'json']);
  const entries = failure
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, string>);
  t.equal(entries.length, 1, 'REASON=… EXIT_CODE=75 finds the failure');
  t.match(entries[0], {
    PRIORITY: '3',
    SYSLOG_IDENTIFIER: ID,
    THING_NAME: 'branch-017',
    PHASE: 'preflight',
    REASON: 'endpoint-unreachable',
    EXIT_CODE: '75',
  });
  const retries = await journald.journalctl(['REASON=endpoint-unreachable', 'PRIORITY=4', '-o', 'json']);
  const first = JSON.parse(retries.trim().split('\n')[0] as string) as Record<string, string>;
  t.match(first, { ATTEMPT: '1', THING_NAME: 'branch-017' }, 'each retry carries its ATTEMPT');
});

t.test('a claim key in DER: the journal names the file and the cause', async (t) => {
  const journald = await journaldFor(t);
  if (!journald) return;
  const root = createDeviceRoot({ hostname: 'branch-018' });
  t.teardown(() => root.cleanup());
  root.writeAgentConfig({ log: { format: 'auto' } });
  writeFileSync(root.claimKeyPath, Buffer.from([0x30, 0x82, 0x04, 0xa4, 0x02, 0x01, 0x00, 0x02, 0x82, 0x01, 0x01]));
  await journald.run(underJournalStream(ID, [EXE, 'run', '--config', root.configPath]), root.env);
  const errs = (await journald.journalctl(['-t', ID, '-p', 'err', 'THING_NAME=branch-018', '-o', 'cat'])).trim();
  t.equal(
    errs,
    `claim private key ${root.claimKeyPath} cannot be used: it is DER (binary), not PEM; convert it with openssl pkey -inform DER -outform PEM -in FILE -out FILE.pem`,
  );
  t.equal((await journald.journalctl(['REASON=claim-key-not-pem', '-o', 'cat'])).trim(), errs);
});
