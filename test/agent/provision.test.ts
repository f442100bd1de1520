// The BUILT agent against the installer stand-in (javac-built Greengrass.jar, its nucleus) and the
// fleet-provisioning stand-in (MQTT over mTLS): happy path, retries, hang, silent plugin failure,
// SIGTERM, secrets. Every test stops its stand-in nucleus and checks no process is left behind.
import t, { type Test } from 'tap';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { DeviceRoot } from '../../harness/device-root.ts';
import {
  javaSpy,
  logLines,
  runAgent,
  shown,
  startAgent,
  ensureBuilt,
  type ExeResult,
} from '../../harness/agent-exe.ts';
import {
  processesUnder,
  recordedNames,
  startWorld,
  stopDevice,
  worldRoot,
  TEMPLATE_NAME,
  type World,
} from '../../harness/world.ts';
import { startProvisioningStandin } from '../../standins/provisioning/server.ts';

ensureBuilt();
const world: World = await startWorld();
t.teardown(() => world.stop());

function device(t: Test, opts: Parameters<typeof worldRoot>[1] = {}): DeviceRoot {
  const root = worldRoot(world, opts);
  t.teardown(async () => {
    await stopDevice(root);
    root.cleanup();
  });
  return root;
}

/** End of a test: stop the stand-in nucleus (the "service") and prove nothing is left running. */
async function settle(t: Test, root: DeviceRoot): Promise<void> {
  await stopDevice(root);
  t.same(processesUnder(root.dir), [], 'no stand-in process left behind');
}

function status(root: DeviceRoot): Promise<Record<string, any>> {
  return runAgent(root, ['status', '--json']).then((r) => JSON.parse(r.stdout));
}

function keyBody(root: DeviceRoot): string {
  return root.claim.privateKeyPem.split('\n')[1] as string;
}

function assertNoClaimKey(t: Test, root: DeviceRoot, results: ExeResult[]): void {
  const body = keyBody(root);
  for (const r of results) t.notOk((r.stdout + r.stderr).includes(body), 'claim key not in agent output');
  for (const f of [root.nucleusLogPath, join(root.ggRoot, 'logs', 'loader.log')]) {
    if (existsSync(f)) t.notOk(readFileSync(f, 'utf8').includes(body), `claim key not in ${f}`);
  }
}

t.test('happy path: provisions once, verifies, removes the claim, writes the sentinel', async (t) => {
  const root = device(t, { hostname: 'gg-store-0815' });
  const spy = javaSpy(root);
  root.writeAgentConfig({ installer: { java: spy.path } });
  const template = readFileSync(root.templatePath, 'utf8');
  const before = Date.now();
  const r = await runAgent(root, ['run']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'provisioned as gg-store-0815\n');

  // The installer ran exactly once, with exactly the seed script's arguments (paths from config).
  const installs = spy.calls().filter((c) => c.includes('-jar'));
  t.same(installs, [
    [
      `-Droot=${root.ggRoot}`,
      '-Dlog.store=FILE',
      '-jar',
      root.agent.installer.jar,
      '--trusted-plugin',
      root.agent.installer.pluginJar,
      '--init-config',
      root.renderedConfig,
      '--component-default-user',
      'ggc_user:ggc_group',
      '--setup-system-service',
      'true',
    ].join(' '),
  ]);

  // Rendered config: filled, 0600, stamped now; the baked template untouched.
  const st = statSync(root.renderedConfig);
  t.equal(st.mode & 0o777, 0o600, 'rendered config is 0600');
  t.ok(st.mtimeMs >= before - 1000, 'rendered config stamped with the current time');
  const rendered = yaml.load(readFileSync(root.renderedConfig, 'utf8')) as any;
  t.equal(
    rendered.services['aws.greengrass.FleetProvisioningByClaim'].configuration.templateParameters.ThingName,
    'gg-store-0815',
  );
  t.equal(readFileSync(root.templatePath, 'utf8'), template, 'template never edited in place');

  // The cloud side saw one registration with our name; the nucleus recorded it.
  t.same(world.prov.registrations.filter((x) => x.thingName === 'gg-store-0815').length, 1);
  t.same(recordedNames(root), ['gg-store-0815']);
  t.ok(
    existsSync(join(root.ggRoot, 'thingCert.crt')) && existsSync(join(root.ggRoot, 'privKey.key')),
    'device credentials present',
  );
  t.notOk(existsSync(root.claimCertPath), 'claim certificate removed');
  t.notOk(existsSync(root.claimKeyPath), 'claim key removed');

  const sentinel = JSON.parse(readFileSync(root.sentinel, 'utf8'));
  t.match(sentinel, {
    thingName: 'gg-store-0815',
    agentVersion: '0.1.0',
    runs: 1,
    installerAttempts: 1,
    claimRemoved: true,
  });
  t.ok(Date.parse(sentinel.provisionedAt) >= before - 1000);
  t.match(await status(root), {
    provisioned: true,
    thingName: 'gg-store-0815',
    phase: 'provisioned',
    lastError: null,
    installerAttempts: 1,
  });

  // Re-run: nothing happens, no second identity.
  const again = await runAgent(root, ['run']);
  t.equal(again.code, 0);
  t.equal(again.stdout, 'already provisioned as gg-store-0815\n');
  t.equal(spy.calls().filter((c) => c.includes('-jar')).length, 1, 'installer not run again');
  t.equal(world.prov.registrations.filter((x) => x.thingName === 'gg-store-0815').length, 1);
  // check on the provisioned machine (claim gone): exits as run does, and says why the preflight is not needed.
  const checked = await runAgent(root, ['check']);
  t.equal(checked.code, 0, checked.stdout);
  t.match(checked.stdout, /^ok\s+claim-certificate\s+not needed: already provisioned as gg-store-0815$/m);
  assertNoClaimKey(t, root, [r, again]);
  // Every line the installer prints goes to the agent's log, tagged with its stream.
  const installerLines = logLines(r.stderr).filter((j) => j.installer === true);
  t.ok(
    installerLines.some(
      (j) => j.stream === 'stdout' && j.msg === `Installer: Setting up Greengrass Nucleus (STAND-IN) in ${root.ggRoot}`,
    ),
    'installer stdout line logged',
  );
  await settle(t, root);
});

t.test('extra template parameters are filled from their sources', async (t) => {
  const root = device(t, {
    hostname: 'gg-params-1',
    dmiSerial: 'SER-99',
    settings: { templateParameters: { SerialNumber: '{{serial}}' } },
  });
  const r = await runAgent(root, ['run']);
  t.equal(r.code, 0, r.stderr);
  const reg = world.prov.registrations.find((x) => x.thingName === 'gg-params-1');
  t.same(reg?.parameters, { ThingName: 'gg-params-1', SerialNumber: 'SER-99' });
  await settle(t, root);
});

t.test('installer failure then success is retried with backoff', async (t) => {
  const root = device(t, { hostname: 'gg-retry-1' });
  const r = await runAgent(root, ['run'], { GG_STANDIN_FAIL: 'install-until:3' });
  t.equal(r.code, 0, r.stderr);
  t.equal(readFileSync(join(root.ggRoot, '.standin-attempts'), 'utf8').trim(), '3', 'the installer ran 3 times');
  t.match(r.stderr, /injected installer failure on attempt 1/);
  t.match(await status(root), { provisioned: true, installerAttempts: 3 });
  await settle(t, root);
});

t.test('installer that keeps failing: gives up with a transient exit, claim kept, no sentinel', async (t) => {
  const root = device(t, { hostname: 'gg-fail-1' });
  const r = await runAgent(root, ['run'], { GG_STANDIN_FAIL: 'install' });
  t.equal(r.code, 75);
  t.match(
    r.stderr,
    // The exception the installer printed after its catch-all "Error while trying to setup Greengrass Nucleus".
    /"level":50,.*"msg":"the Greengrass installer failed \(exit 1\): java\.lang\.IllegalStateException: GG_STANDIN_FAIL=install: injected installer failure \(STAND-IN\) \(gave up after 3 attempts\)"/,
  );
  t.notOk(existsSync(root.sentinel));
  t.ok(existsSync(root.claimKeyPath), 'claim key kept for the next try');
  t.match(await status(root), {
    provisioned: false,
    installerAttempts: 3,
    lastError: { reason: 'installer-failed', exitCode: 75 },
  });
  await settle(t, root);
});

t.test('a hanging installer is killed at its timeout', async (t) => {
  const root = device(t, { hostname: 'gg-hang-1', agent: { installer: { timeoutSeconds: 2, attempts: 1 } } });
  const r = await runAgent(root, ['run'], { GG_STANDIN_FAIL: 'hang' });
  t.equal(r.code, 75);
  t.match(r.stderr, /did not finish within 2 s and was killed/);
  t.ok(r.ms < 15_000, `returned after ${r.ms} ms`);
  t.same(processesUnder(root.dir), [], 'the installer process is gone');
  t.notOk(existsSync(root.sentinel));
  await settle(t, root);
});

t.test('SIGTERM to the agent stops the installer cleanly (exit 130)', async (t) => {
  const root = device(t, { hostname: 'gg-term-1' });
  const { child, done } = startAgent(root, ['run'], { GG_STANDIN_FAIL: 'hang' });
  const deadline = Date.now() + 20_000;
  const installer = () => processesUnder(root.dir).filter((p) => p !== child.pid);
  while (!installer().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.ok(installer().length > 0, 'installer started');
  child.kill('SIGTERM');
  const r = await done;
  t.equal(r.code, 130);
  t.match(r.stderr, /interrupted by SIGTERM/);
  await new Promise((r) => setTimeout(r, 300));
  t.same(processesUnder(root.dir), [], 'installer stopped with the agent');
  t.match(await status(root), { provisioned: false, lastError: { reason: 'interrupted', exitCode: 130 } });
  await settle(t, root);
});

t.test('silent provisioning failure: detected from the nucleus log, service restarted, then success', async (t) => {
  const root = device(t, { hostname: 'gg-plugin-retry' });
  const r = await runAgent(root, ['run'], { GG_STANDIN_FAIL_UNTIL_PROVISION: '2' });
  t.equal(r.code, 0, r.stderr);
  t.match(
    r.stderr,
    /"msg":"The provisioning plugin failed: com\.aws\.greengrass\.DeviceProvisioningRuntimeException: java\.lang\.RuntimeException: .*injected RegisterThing rejection.*; restarting greengrass\.service in \d+ s \(retry 1\)"/,
  );
  t.match(await status(root), { provisioned: true, provisioningRetries: 1, installerAttempts: 1 });
  t.same(recordedNames(root), ['gg-plugin-retry']);
  const nuclei = processesUnder(root.dir).filter((p) =>
    readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('standin.Nucleus'),
  );
  t.equal(nuclei.length, 1, 'the restart replaced the nucleus (one running)');
  await settle(t, root);
});

t.test(
  'event-driven verify: with verify.pollMs 20000 the plugin failure and the later success are seen within seconds',
  async (t) => {
    // Polling only, each of the two waits (after the install, after the restart) would take 20 s: the nucleus JVM
    // needs far longer than the agent's first check to start and fail or record its name.
    const root = device(t, { hostname: 'gg-verify-events', agent: { verify: { pollMs: 20_000 } } });
    const r = await runAgent(root, ['run'], { GG_STANDIN_FAIL_UNTIL_PROVISION: '2' });
    t.equal(r.code, 0, r.stderr);
    t.match(shown(r.stderr), /The provisioning plugin failed: .*injected RegisterThing rejection/);
    t.match(await status(root), { provisioned: true, provisioningRetries: 1 });
    t.ok(r.ms < 15_000, `provisioned in ${r.ms} ms with pollMs 20000`);
    await settle(t, root);
  },
);

t.test('silent provisioning failure that persists: transient exit with the plugin reason, claim kept', async (t) => {
  const root = device(t, { hostname: 'gg-plugin-fail', agent: { verify: { retrySeconds: 3 } } });
  const r = await runAgent(root, ['run'], { GG_STANDIN_FAIL: 'provision' });
  t.equal(r.code, 75);
  t.match(
    r.stderr,
    /"level":50,.*"msg":"the provisioning plugin failed: .*GG_STANDIN_FAIL=provision: injected RegisterThing rejection.*\(gave up after [1-9]\d* service restarts? in \d+ s, verify\.retrySeconds 3\)/,
  );
  t.notOk(existsSync(root.sentinel));
  t.ok(existsSync(root.claimKeyPath));
  const st = await status(root);
  t.match(st, { provisioned: false, lastError: { reason: 'provisioning-failed' } });
  t.ok((st.provisioningRetries as number) >= 1, `retried within the budget (${st.provisioningRetries} restarts)`);
  t.same(recordedNames(root), []);
  await settle(t, root);
});

t.test('a re-run after provisioning still finishes: an existing identity is not provisioned twice', async (t) => {
  const root = device(t, { hostname: 'gg-finish-1' });
  t.equal((await runAgent(root, ['run'])).code, 0);
  const regs = world.prov.registrations.length;
  // e.g. power lost between removing the claim and writing the sentinel
  rmSync(root.sentinel);
  const r = await runAgent(root, ['run']);
  t.equal(r.code, 0, r.stderr);
  t.match(shown(r.stderr), /already holds the identity gg-finish-1; finishing the remaining steps/);
  t.equal(world.prov.registrations.length, regs, 'no new registration');
  t.equal(JSON.parse(readFileSync(root.sentinel, 'utf8')).thingName, 'gg-finish-1');
  await settle(t, root);
});

t.test(
  'a provisioning template that renames the Thing: refused with exit 3 (claim kept, no sentinel) unless verify.acceptOtherThingName',
  async (t) => {
    // The template's Thing resource joins a prefix to the ThingName parameter, so the nucleus records another name.
    const renaming = await startProvisioningStandin({
      ca: world.ca,
      templateName: TEMPLATE_NAME,
      thingNamePrefix: 'branch-',
    });
    t.teardown(() => renaming.stop());
    const endpoint = { host: '127.0.0.1', port: renaming.port };

    const root = device(t, { hostname: 'gg-renamed-1', endpoint });
    const r = await runAgent(root, ['run']);
    t.equal(r.code, 3, r.stderr);
    t.match(
      shown(r.stderr),
      /the nucleus recorded ThingName "branch-gg-renamed-1", not "gg-renamed-1".*verify\.acceptOtherThingName: true/,
    );
    t.notOk(existsSync(root.sentinel), 'no sentinel');
    t.ok(existsSync(root.claimKeyPath) && existsSync(root.claimCertPath), 'claim kept');
    t.match(await status(root), { provisioned: false, lastError: { reason: 'thing-name-mismatch', exitCode: 3 } });

    // A re-run finds the recorded identity and refuses the same way; nothing is provisioned again.
    const again = await runAgent(root, ['run']);
    t.equal(again.code, 3, again.stderr);
    t.match(shown(again.stderr), /recorded ThingName "branch-gg-renamed-1", not "gg-renamed-1"/);
    t.notOk(existsSync(root.sentinel));

    // The operator accepts the template's names: the next run finishes with the recorded identity.
    root.writeAgentConfig({ verify: { acceptOtherThingName: true } });
    const accepted = await runAgent(root, ['run']);
    t.equal(accepted.code, 0, accepted.stderr);
    t.equal(accepted.stdout, 'provisioned as branch-gg-renamed-1\n');
    t.equal(JSON.parse(readFileSync(root.sentinel, 'utf8')).thingName, 'branch-gg-renamed-1');
    t.notOk(existsSync(root.claimKeyPath), 'claim removed once finished');
    t.same(
      renaming.registrations.map((x) => x.thingName),
      ['branch-gg-renamed-1'],
      'one registration across the three runs',
    );
    await settle(t, root);

    // Accepted from the start: a fresh clone finishes in one run under the template's name.
    const other = device(t, { hostname: 'gg-renamed-2', endpoint, agent: { verify: { acceptOtherThingName: true } } });
    const fresh = await runAgent(other, ['run']);
    t.equal(fresh.code, 0, fresh.stderr);
    t.equal(fresh.stdout, 'provisioned as branch-gg-renamed-2\n');
    t.match(
      shown(fresh.stderr),
      /The nucleus recorded ThingName branch-gg-renamed-2, not gg-renamed-2; keeping it \(verify\.acceptOtherThingName\)/,
    );
    await settle(t, other);
  },
);

t.test(
  'provisioning never confirmed (endpoint accepts TCP and stays silent): restart, then a transient exit',
  async (t) => {
    // A black hole: preflight's TCP check passes, the plugin's TLS handshake never completes, the nucleus logs nothing.
    const held: Socket[] = [];
    const hole = createServer((s) => held.push(s));
    await new Promise<void>((res) => hole.listen(0, '127.0.0.1', res));
    t.teardown(() => {
      for (const s of held) s.destroy();
      hole.close();
    });
    const port = (hole.address() as { port: number }).port;
    const root = device(t, {
      hostname: 'gg-silent-1',
      endpoint: { host: '127.0.0.1', port },
      agent: { verify: { timeoutSeconds: 3, retrySeconds: 4 } },
    });
    const r = await runAgent(root, ['run']);
    t.equal(r.code, 75, r.stderr);
    t.match(
      r.stderr,
      /provisioning was not confirmed within 3 s \(no system\.thingName in .*config\.tlog\) \(gave up after 1 service restart in \d+ s, verify\.retrySeconds 4\)/,
    );
    t.match(shown(r.stderr), /^Restarting greengrass\.service so the provisioning plugin runs again$/m);
    t.notOk(existsSync(root.sentinel));
    t.ok(existsSync(root.claimKeyPath), 'claim kept');
    t.match(await status(root), {
      provisioned: false,
      provisioningRetries: 1,
      lastError: { reason: 'provisioning-timeout', exitCode: 75 },
    });
    await settle(t, root);
  },
);

t.test('SIGTERM while greengrass.service is being restarted: exit 130, the restart command stopped', async (t) => {
  const root = device(t, { hostname: 'gg-term-restart' });
  const pidFile = join(root.dir, 'restart.pid');
  const script = join(root.dir, 'slow-restart.sh');
  writeFileSync(script, `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 60\n`, { mode: 0o755 });
  root.writeAgentConfig({ service: { restartCommand: [script] } });
  const { child, done } = startAgent(root, ['run'], { GG_STANDIN_FAIL: 'provision' });
  const deadline = Date.now() + 60_000;
  while (!existsSync(pidFile) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  t.ok(existsSync(pidFile), 'the agent is running the restart command');
  child.kill('SIGTERM');
  const r = await done;
  t.equal(r.code, 130, r.stderr);
  t.match(r.stderr, /interrupted by SIGTERM/);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  await new Promise((res) => setTimeout(res, 300));
  const alive = existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  t.notOk(alive, 'the restart command was killed with the agent');
  if (alive) process.kill(pid);
  t.match(await status(root), { provisioned: false, lastError: { reason: 'interrupted', exitCode: 130 } });
  t.notOk(existsSync(root.sentinel));
  await settle(t, root);
});

t.test(
  'finish: device credentials missing after provisioning is transient (no sentinel); claim.removeAfterProvisioning false keeps the claim',
  async (t) => {
    const root = device(t, { hostname: 'gg-creds-1', agent: { claim: { removeAfterProvisioning: false } } });
    const r = await runAgent(root, ['run']);
    t.equal(r.code, 0, r.stderr);
    t.ok(existsSync(root.claimKeyPath) && existsSync(root.claimCertPath), 'claim kept as configured');
    t.match(JSON.parse(readFileSync(root.sentinel, 'utf8')), { thingName: 'gg-creds-1', claimRemoved: false });
    t.match(await status(root), { provisioned: true, claimRemoved: false });

    // The identity is recorded but its private key is gone (e.g. a disk restored without it): not finished.
    rmSync(root.sentinel);
    rmSync(join(root.ggRoot, 'privKey.key'));
    const regs = world.prov.registrations.length;
    const again = await runAgent(root, ['run']);
    t.equal(again.code, 75, again.stderr);
    t.match(again.stderr, /provisioned as gg-creds-1 but the device credentials are missing: .*privKey\.key/);
    t.notOk(existsSync(root.sentinel), 'no sentinel');
    t.equal(world.prov.registrations.length, regs, 'no second identity provisioned');
    t.match(await status(root), {
      provisioned: false,
      lastError: { reason: 'device-credentials-missing', exitCode: 75 },
    });
    await settle(t, root);
  },
);
