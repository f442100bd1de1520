// The BUILT agent's bounded waits, when the condition comes true DURING the wait (the bad-input tests
// cover the bound running out): a clock that catches up with the image's build time, an endpoint that
// comes up (`check --wait`), and a distribution's own "is greengrass.service enabled?" command.
import t from 'tap';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createDeviceRoot } from '../../harness/device-root.ts';
import { closedPort, ensureBuilt, logLines, runAgent, startAgent, tcpListener } from '../../harness/agent-exe.ts';
import { PLUGIN_FAILURE_LINE, bootTimeMs } from '../../agent/src/verify.ts';
import { recordedNames, startWorld, stopDevice, worldRoot, type World } from '../../harness/world.ts';
import { identityTlogLines } from '../../harness/nucleus-identity.ts';

ensureBuilt();
const world: World = await startWorld();
t.teardown(() => world.stop());

t.test(
  'clock behind the image build time catches up during the wait: provisions, config stamped after it',
  async (t) => {
    const root = worldRoot(world, { hostname: 'gg-clock-late-1' });
    t.teardown(async () => {
      await stopDevice(root);
      root.cleanup();
    });
    // The template's mtime is the image build time; 3 s ahead of this clock = a clock that is 3 s behind.
    const buildTime = new Date(Date.now() + 3000);
    utimesSync(root.templatePath, buildTime, buildTime);
    root.writeAgentConfig({ preflight: { clockWaitSeconds: 60 } });
    const r = await runAgent(root, ['run']);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'provisioned as gg-clock-late-1\n');
    const waited = logLines(r.stderr).find((l) => l.reason === 'clock-not-set');
    t.ok(waited, 'the agent said it was waiting for the clock');
    t.equal(waited?.level, 40, 'as a warning');
    t.ok(
      statSync(root.renderedConfig).mtimeMs >= buildTime.getTime(),
      'the config was rendered only once the clock had passed the build time',
    );
    t.same(recordedNames(root), ['gg-clock-late-1']);
    t.ok(existsSync(root.sentinel), 'sentinel written');
  },
);

t.test('check --wait: an endpoint that comes up during the wait passes; plain check does not wait', async (t) => {
  const port = await closedPort();
  const root = createDeviceRoot({ hostname: 'gg-check-wait-1', endpoint: { host: '127.0.0.1', port } });
  t.teardown(() => root.cleanup());
  root.writeAgentConfig({ preflight: { networkWaitSeconds: 30, connectTimeoutMs: 500 } });

  const once = await runAgent(root, ['check']);
  t.equal(once.code, 75, 'without --wait an unreachable endpoint is a transient failure at once');
  t.ok(once.ms < 5000, `check without --wait returned in ${once.ms} ms`);
  t.match(once.stdout, /^FAIL\s+endpoint\s+/m);

  const server = createServer((s) => s.destroy());
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  // The endpoint comes up once the agent has said it is retrying (not after a fixed delay: on a loaded
  // host the agent's first try could come after it).
  const started = Date.now();
  const { child, done } = startAgent(root, ['check', '--wait']);
  const opened = new Promise<number>((resolve) => {
    let seen = '';
    child.stderr!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('"reason":"endpoint-unreachable"') && !server.listening)
        server.listen(port, '127.0.0.1', () => resolve(Date.now()));
    });
  });
  const waited = await done;
  t.equal(waited.code, 0, waited.stdout + waited.stderr);
  t.ok(server.listening, 'the endpoint was brought up (the agent said it was retrying)');
  const openedAt = server.listening ? await opened : Number.NaN;
  t.match(waited.stdout, /^ok\s+endpoint\s+/m);
  t.ok(
    started + waited.ms >= openedAt,
    `it passed only after the endpoint came up (${openedAt - started} ms after the start; the agent ran ${waited.ms} ms)`,
  );
  t.ok(
    logLines(waited.stderr).some((l) => /^The IoT data endpoint .* is unreachable .*; retrying in/.test(String(l.msg))),
    'it logged its retries',
  );
  t.notOk(existsSync(root.stateFile), 'check writes no state');
  t.notOk(existsSync(root.renderedConfig), 'check renders nothing');
});

t.test('service.isEnabledCommand that cannot run: a configuration error (exit 3), before the installer', async (t) => {
  const root = worldRoot(world, { hostname: 'gg-enabled-cmd-0' });
  t.teardown(async () => {
    await stopDevice(root);
    root.cleanup();
  });
  root.writeAgentConfig({
    service: { isEnabledCommand: [join(root.dir, 'no-such-systemctl'), 'is-enabled', 'greengrass.service'] },
  });
  const r = await runAgent(root, ['run']);
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /cannot run service\.isEnabledCommand \S*no-such-systemctl: ENOENT/);
  t.same(recordedNames(root), [], 'the installer never ran');
  t.notOk(existsSync(root.sentinel), 'no sentinel');
  const status = JSON.parse((await runAgent(root, ['status', '--json'])).stdout);
  t.match(status.lastError, { reason: 'service-command-unavailable', exitCode: 3 });
});

t.test(
  'service.isEnabledCommand decides the finish step: "not enabled" keeps the claim, a re-run finishes without a second identity',
  async (t) => {
    const root = worldRoot(world, { hostname: 'gg-enabled-cmd-1' });
    t.teardown(async () => {
      await stopDevice(root);
      root.cleanup();
    });
    root.writeAgentConfig({ service: { isEnabledCommand: ['/bin/sh', '-c', 'exit 1'] } });
    const first = await runAgent(root, ['run']);
    t.equal(first.code, 75, first.stderr);
    t.match(
      first.stderr,
      /provisioned as gg-enabled-cmd-1 but greengrass\.service is not enabled \(\/bin\/sh -c exit 1\)/,
    );
    t.ok(existsSync(root.claimKeyPath), 'claim key kept while the service is not enabled');
    t.notOk(existsSync(root.sentinel), 'no sentinel');

    root.writeAgentConfig({ service: { isEnabledCommand: ['/bin/sh', '-c', 'exit 0'] } });
    const second = await runAgent(root, ['run']);
    t.equal(second.code, 0, second.stderr);
    t.equal(second.stdout, 'provisioned as gg-enabled-cmd-1\n');
    t.notOk(existsSync(root.claimKeyPath), 'claim key removed');
    t.equal(
      world.prov.registrations.filter((x) => x.thingName === 'gg-enabled-cmd-1').length,
      1,
      'one registration across both runs',
    );
    t.match(JSON.parse(readFileSync(root.sentinel, 'utf8')), { thingName: 'gg-enabled-cmd-1', runs: 2 });
  },
);

t.test('backoff jitter differs between clones: the executable does not start with a frozen random state', async (t) => {
  // If the executable's random state were baked in at build time (as a V8 startup snapshot could do),
  // every clone would retry in lockstep. Two runs against the same dead endpoint must draw different delays.
  const port = await closedPort();
  const draws: number[][] = [];
  for (const name of ['gg-jitter-1', 'gg-jitter-2']) {
    const root = createDeviceRoot({ hostname: name, endpoint: { host: '127.0.0.1', port } });
    t.teardown(() => root.cleanup());
    root.writeAgentConfig({
      preflight: { networkWaitSeconds: 3, connectTimeoutMs: 500 },
      backoff: { baseMs: 1000, maxMs: 2000 },
    });
    const r = await runAgent(root, ['check', '--wait']);
    t.equal(r.code, 75, 'the endpoint never came up');
    draws.push(
      logLines(r.stderr)
        .filter((l) => l.reason === 'endpoint-unreachable' && l.level === 40)
        .map((l) => l.retryInMs as number),
    );
  }
  t.ok(
    draws[0]!.length >= 2 && draws[1]!.length >= 2,
    `both runs retried (${draws[0]!.length}, ${draws[1]!.length} times)`,
  );
  t.notSame(draws[0], draws[1], `different jitter: ${JSON.stringify(draws)}`);
});

t.test(
  "service already enabled (an earlier boot installed it): a failure the nucleus logged before this boot is not this boot's",
  async (t) => {
    const endpoint = await tcpListener();
    t.teardown(() => endpoint.close());
    const root = createDeviceRoot({ hostname: 'gg-old-log-1', endpoint: { host: '127.0.0.1', port: endpoint.port } });
    t.teardown(() => root.cleanup());
    const restarts = join(root.dir, 'restarts.log');
    root.writeAgentConfig({
      service: { restartCommand: ['/bin/sh', '-c', `echo restart >> '${restarts}'`] },
      verify: { timeoutSeconds: 20, pollMs: 200 },
    });
    // What an earlier boot left: the enabled service, and the plugin's failure in the nucleus log, stamped then.
    mkdirSync(join(root.enabledLink, '..'), { recursive: true });
    symlinkSync('/etc/systemd/system/greengrass.service', root.enabledLink);
    const before = new Date((bootTimeMs() ?? Date.now()) - 3_600_000).toISOString();
    mkdirSync(join(root.ggRoot, 'logs'), { recursive: true });
    appendFileSync(
      join(root.ggRoot, 'logs', 'greengrass.log'),
      `${before} [ERROR] (pool-1-thread-1) com.aws.greengrass.lifecyclemanager.KernelLifecycle: ${PLUGIN_FAILURE_LINE}. Moving on to run Greengrass without provisioning. {reason=an earlier boot}\n`,
    );
    // This boot's nucleus provisions a moment after the agent starts.
    const { done } = startAgent(root, ['run']);
    await new Promise((r) => setTimeout(r, 1500));
    writeFileSync(join(root.ggRoot, 'thingCert.crt'), 'device cert');
    writeFileSync(join(root.ggRoot, 'privKey.key'), 'device key', { mode: 0o600 });
    mkdirSync(join(root.ggRoot, 'config'), { recursive: true });
    writeFileSync(root.tlogPath, identityTlogLines('gg-old-log-1', root.ggRoot));
    const r = await done;
    t.equal(r.code, 0, r.stderr.slice(-1500));
    t.match(r.stderr, /already enabled: an earlier run installed it/, 'the run took the already-installed path');
    t.notOk(existsSync(restarts), 'the service was not restarted over the old failure');
    t.match(JSON.parse(readFileSync(root.sentinel, 'utf8')), { thingName: 'gg-old-log-1', provisioningRetries: 0 });
  },
);
