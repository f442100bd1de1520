// The BUILT agent against a provisioning stand-in that throttles RegisterThing (one call per 4 s):
// devices booting together are rejected with ThrottlingException, which the plugin does not retry.
// The agent keeps restarting the service with jittered backoff within verify.retrySeconds, so every device
// provisions once; any other rejection is retried the same way; the retries are bounded by that budget.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { startProvisioningStandin } from '../../standins/provisioning/server.ts';
import { buildInstallerStandin } from '../../harness/standin-installer.ts';
import { createCa } from '../../standins/pki.ts';
import { createDeviceRoot, type DeviceRoot } from '../../harness/device-root.ts';
import { ensureBuilt, runAgent } from '../../harness/agent-exe.ts';
import { TEMPLATE_NAME, standinRestartCommand, stopDevice } from '../../harness/world.ts';

ensureBuilt();
const jars = await buildInstallerStandin();
const ca = createCa();
const prov = await startProvisioningStandin({ ca, templateName: TEMPLATE_NAME, ratePerSecond: 0.25 });
t.teardown(() => prov.stop());

function device(name: string, agent: Record<string, unknown>, settings: Record<string, unknown> = {}): DeviceRoot {
  const root = createDeviceRoot({
    ca,
    jars,
    hostname: name,
    endpoint: { host: '127.0.0.1', port: prov.port },
    settings,
  });
  root.writeAgentConfig({
    service: { restartCommand: standinRestartCommand(root.ggRoot) },
    backoff: { baseMs: 500, maxMs: 3000 },
    ...agent,
  });
  t.teardown(async () => {
    await stopDevice(root);
    root.cleanup();
  });
  return root;
}

const throttles = () => prov.rejections.filter((r) => r.errorCode === 'ThrottlingException').length;

t.test(
  'three devices booting together: throttled ones keep retrying within verify.retrySeconds and all provision once',
  async (t) => {
    const names = ['gg-throttle-1', 'gg-throttle-2', 'gg-throttle-3'];
    const roots = names.map((n) => device(n, { verify: { retrySeconds: 120 } }));
    const results = await Promise.all(roots.map((r) => runAgent(r, ['run'])));
    results.forEach((r, i) => t.equal(r.code, 0, `${names[i]}: ${r.stderr.slice(-2000)}`));
    t.ok(throttles() >= 2, `RegisterThing was throttled ${throttles()} times (one call per 4 s for three devices)`);
    for (const n of names)
      t.equal(prov.registrations.filter((x) => x.thingName === n).length, 1, `${n} registered exactly once`);
    t.equal(prov.takeovers.length, 0);
    const retried = results.filter((r) =>
      r.stderr.includes('; AWS is throttling provisioning; restarting greengrass.service in'),
    );
    t.ok(retried.length >= 2, `${retried.length} devices logged a throttled retry`);
    for (const [i, root] of roots.entries()) {
      t.ok(existsSync(root.sentinel), `${names[i]} wrote its sentinel`);
      t.notOk(existsSync(root.claimKeyPath), `${names[i]} removed the claim key`);
    }
    const sentinel = JSON.parse(
      readFileSync(roots[results.findIndex((r) => r.stderr.includes('AWS is throttling'))]!.sentinel, 'utf8'),
    );
    t.ok(sentinel.provisioningRetries >= 1, 'the sentinel counts the throttled service restarts');
  },
);

t.test('a rejection that is not throttling is retried within verify.retrySeconds too, then exits 75', async (t) => {
  await new Promise((r) => setTimeout(r, 4500)); // let the rate window clear
  const root = device('gg-no-template', { verify: { retrySeconds: 8 } }, { provisioningTemplate: 'NoSuchTemplate' });
  const r = await runAgent(root, ['run']);
  t.equal(r.code, 75, r.stderr.slice(-2000));
  t.match(
    r.stderr,
    /the provisioning plugin failed: com\.aws\.greengrass\.DeviceProvisioningRuntimeException: java\.lang\.RuntimeException: .*\(gave up after [1-9]\d* service restarts? in \d+ s, verify\.retrySeconds 8\)/,
  );
  t.notOk(existsSync(root.sentinel), 'no sentinel');
  t.ok(existsSync(root.claimKeyPath), 'claim key kept for the next try');
});

t.test('throttled for longer than verify.retrySeconds: transient exit with the throttling reason', async (t) => {
  // A stand-in admitting one registration per 60 s: after the first device, the second is throttled
  // on every try, and may retry for 1 s only.
  const slow = await startProvisioningStandin({ ca, templateName: TEMPLATE_NAME, ratePerSecond: 1 / 60 });
  t.teardown(() => slow.stop());
  const at = (name: string, agent: Record<string, unknown>) => {
    const root = createDeviceRoot({ ca, jars, hostname: name, endpoint: { host: '127.0.0.1', port: slow.port } });
    root.writeAgentConfig({
      service: { restartCommand: standinRestartCommand(root.ggRoot) },
      backoff: { baseMs: 1000, maxMs: 1000 },
      ...agent,
    });
    t.teardown(async () => {
      await stopDevice(root);
      root.cleanup();
    });
    return root;
  };
  const first = at('gg-throttle-first', { verify: { retrySeconds: 120 } });
  t.equal((await runAgent(first, ['run'])).code, 0, 'the first device takes the only slot');
  const late = at('gg-throttle-late', { verify: { retrySeconds: 15 } });
  const b = await runAgent(late, ['run']);
  t.equal(b.code, 75, b.stderr.slice(-2000));
  t.match(b.stderr, /"reason":"provisioning-throttled"/);
  t.match(b.stderr, /Rate exceeded|Throttl/);
  t.match(b.stderr, /gave up after [1-9]\d* service restarts? in \d+ s, verify\.retrySeconds 15/);
  t.ok(
    slow.rejections.filter((r) => r.errorCode === 'ThrottlingException').length >= 2,
    'throttled, retried, throttled again',
  );
  t.equal(slow.registrations.filter((x) => x.thingName === 'gg-throttle-late').length, 0, 'not registered');
  t.ok(existsSync(late.claimKeyPath), 'claim key kept');
  t.notOk(existsSync(late.sentinel), 'no sentinel');
});
