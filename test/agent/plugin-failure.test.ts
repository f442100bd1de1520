// The BUILT agent reading failures as the real nucleus logs them (the nucleus STAND-IN writes the real lines; a
// scripted MQTT endpoint answers RegisterThing): a refusal (access denied, as a pre-provisioning hook's refusal
// arrives) ends the run at once with exit 3, claim kept, no sentinel; any other failure, a closed connection
// included, is retried within verify.retrySeconds and then exits 75.
import t, { type Test } from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceRoot } from '../../harness/device-root.ts';
import { ensureBuilt, runAgent, shown } from '../../harness/agent-exe.ts';
import { startScriptedBroker, type RegisterThingAnswer } from '../../harness/scripted-broker.ts';
import { startWorld, stopDevice, worldRoot, type World } from '../../harness/world.ts';
import { pluginFailure } from '../../agent/src/verify.ts';
import { classifyPluginFailure } from '../../agent/src/plugin-failure.ts';

ensureBuilt();
const world: World = await startWorld();
t.teardown(() => world.stop());
/** Short MQTT waits in the nucleus stand-in, so a closed connection fails an attempt in 0.3 s instead of 30 s. */
const FAST = { GG_STANDIN_MQTT_TIMEOUT_SECONDS: '0.3' };

async function scriptedDevice(
  t: Test,
  name: string,
  answer: (n: number) => RegisterThingAnswer,
  verify: Record<string, number> = {},
) {
  const broker = await startScriptedBroker(world.ca, answer);
  const root: DeviceRoot = worldRoot(world, {
    hostname: name,
    endpoint: { host: '127.0.0.1', port: broker.port },
    agent: { verify },
  });
  t.teardown(async () => {
    await stopDevice(root);
    root.cleanup();
    await broker.stop();
  });
  return { broker, root };
}

async function status(root: DeviceRoot): Promise<Record<string, any>> {
  return JSON.parse((await runAgent(root, ['status', '--json'])).stdout);
}

t.test(
  'a refused RegisterThing (access denied, as a refusing hook answers): exit 3 at once, claim kept, no sentinel',
  async (t) => {
    const errorMessage = 'ACCESS_DENIED: pre-provisioning hook denied the request';
    const { broker, root } = await scriptedDevice(t, 'gg-refused-1', () => ({
      rejected: { statusCode: 403, errorCode: 'AccessDenied', errorMessage },
    }));
    const r = await runAgent(root, ['run'], FAST);
    t.equal(r.code, 3, r.stderr.slice(-2000));
    t.match(
      shown(r.stderr),
      /AWS IoT refused to register "gg-refused-1" \(.*ACCESS_DENIED: pre-provisioning hook denied the request.*\)/,
    );
    t.match(r.stderr, /already registered to another core .*Give this machine a name of its own/);
    t.equal(broker.registerThings, 1, 'no retry loop: one RegisterThing');
    t.notMatch(r.stderr, /restarting greengrass\.service in/);
    t.ok(existsSync(root.claimKeyPath), 'claim key kept');
    t.ok(existsSync(root.claimCertPath), 'claim certificate kept');
    t.notOk(existsSync(root.sentinel), 'no sentinel');
    t.match(await status(root), { provisioned: false, lastError: { reason: 'provisioning-refused', exitCode: 3 } });
  },
);

t.test('"not authorized" in the cause is a refusal too', async (t) => {
  const { broker, root } = await scriptedDevice(t, 'gg-refused-2', () => ({
    rejected: { statusCode: 403, errorCode: 'Forbidden', errorMessage: 'Not authorized to register this thing' },
  }));
  const r = await runAgent(root, ['run'], FAST);
  t.equal(r.code, 3, r.stderr.slice(-2000));
  t.equal(broker.registerThings, 1);
});

t.test(
  'connections closed (throttling may look like this) for three service runs: retried within the budget, then provisioned',
  async (t) => {
    // Each nucleus run tries 3 times; 9 closed connections = 3 failed runs, the 4th run's first attempt registers.
    const { broker, root } = await scriptedDevice(
      t,
      'gg-closed-1',
      (n) => (n <= 9 ? 'close' : { accepted: { thingName: 'gg-closed-1' } }),
      { retrySeconds: 120 },
    );
    const r = await runAgent(root, ['run'], FAST);
    t.equal(r.code, 0, r.stderr.slice(-3000));
    t.equal(broker.registerThings, 10);
    t.match(
      r.stderr,
      /RetryableProvisioningException: java\.util\.concurrent\.TimeoutException.*; restarting greengrass\.service in \d+ s \(retry 1\)/,
    );
    t.ok(existsSync(root.sentinel), 'sentinel written');
    t.match(await status(root), { provisioned: true, provisioningRetries: 3 });
  },
);

t.test('failures that outlast verify.retrySeconds: exit 75 with the reason and the budget, claim kept', async (t) => {
  const { root } = await scriptedDevice(
    t,
    'gg-closed-2',
    () => ({ rejected: { statusCode: 400, errorCode: 'InvalidParameters', errorMessage: 'Template not found' } }),
    { retrySeconds: 10 },
  );
  const r = await runAgent(root, ['run'], FAST);
  t.equal(r.code, 75, r.stderr.slice(-2000));
  t.match(
    r.stderr,
    /the provisioning plugin failed: com\.aws\.greengrass\.DeviceProvisioningRuntimeException: java\.lang\.RuntimeException: Template not found.*\(gave up after [1-9]\d* service restarts? in \d+ s, verify\.retrySeconds 10\)/,
  );
  t.ok(existsSync(root.claimKeyPath), 'claim kept');
  t.notOk(existsSync(root.sentinel));
});

t.test('the cause is read from the lines after the failure line, without stack frames', async (t) => {
  const dir = t.testdir();
  const log = join(dir, 'greengrass.log');
  writeFileSync(
    log,
    [
      '2026-12-06T09:00:00.000Z [INFO] (pool-2-thread-1) com.aws.greengrass.lifecyclemanager.KernelLifecycle: Running provisioning plugin: aws.greengrass.FleetProvisioningByClaim. {}',
      '2026-12-06T09:00:01.000Z [ERROR] (pool-2-thread-1) com.aws.greengrass.lifecyclemanager.KernelLifecycle: Caught exception while running provisioning plugin. Moving on to run Greengrass without provisioning. {}',
      'com.aws.greengrass.DeviceProvisioningRuntimeException: java.lang.RuntimeException: Access Denied',
      '\tat com.aws.greengrass.FutureExceptionHandler.getFutureAfterCompletion(FutureExceptionHandler.java:69)',
      'Caused by: java.lang.RuntimeException: Access Denied',
      '\t... 12 more',
      '2026-12-06T09:00:01.100Z [INFO] (main) com.aws.greengrass.lifecyclemanager.KernelLifecycle: system-start. {}',
      '',
    ].join('\n'),
  );
  const reason = pluginFailure(log, 0);
  t.equal(
    reason,
    'com.aws.greengrass.DeviceProvisioningRuntimeException: java.lang.RuntimeException: Access Denied | Caused by: java.lang.RuntimeException: Access Denied',
  );
  t.equal(classifyPluginFailure(reason!), 'refused');
  t.equal(
    classifyPluginFailure(
      'com.aws.greengrass.DeviceProvisioningRuntimeException: java.lang.RuntimeException: Rate exceeded',
    ),
    'throttled',
  );
  t.equal(
    classifyPluginFailure(
      'com.aws.greengrass.provisioning.exceptions.RetryableProvisioningException: java.util.concurrent.TimeoutException',
    ),
    'failed',
  );
});
