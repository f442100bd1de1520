// `seal` and `status` on the BUILT agent.
import t from 'tap';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createDeviceRoot } from '../../harness/device-root.ts';
import { identityTlogLines } from '../../harness/nucleus-identity.ts';
import { EXE, REPO, ensureBuilt, runAgent, shown } from '../../harness/agent-exe.ts';

ensureBuilt();

const lexists = (p: string): boolean => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

t.test(
  'seal records the template hostname, clears first-boot state; a clone keeping that hostname is refused',
  async (t) => {
    const root = createDeviceRoot({ hostname: 'gg-golden' });
    t.teardown(() => root.cleanup());
    for (const f of [root.sentinel, root.stateFile, root.renderedConfig]) writeFileSync(f, '{"thingName":"old"}\n');
    const r = await runAgent(root, ['seal']);
    t.equal(r.code, 0, r.stderr);
    t.equal(readFileSync(root.templateHostnameFile, 'utf8'), 'gg-golden\n', 'defaults to the current hostname');
    for (const f of [root.sentinel, root.stateFile, root.renderedConfig]) t.notOk(existsSync(f), `removed ${f}`);
    t.ok(existsSync(root.claimCertPath) && existsSync(root.claimKeyPath), 'claim files stay (the image needs them)');
    const clone = await runAgent(root, ['run']);
    t.equal(clone.code, 3);
    t.match(shown(clone.stderr), /"gg-golden" is the golden image's own hostname/);
    root.setHostname('gg-clone-7');
    const ok = await runAgent(root, ['check', '--json']);
    t.equal(JSON.parse(ok.stdout).thingName, 'gg-clone-7');
  },
);

t.test('seal --template-hostname, and a re-seal overwrites it', async (t) => {
  const root = createDeviceRoot();
  t.teardown(() => root.cleanup());
  t.equal((await runAgent(root, ['seal', '--template-hostname', 'tpl-a'])).code, 0);
  t.equal((await runAgent(root, ['seal', '--template-hostname', 'tpl-b'])).code, 0);
  t.equal(readFileSync(root.templateHostnameFile, 'utf8'), 'tpl-b\n');
  const bad = await runAgent(root, ['seal', '--template-hostname', 'a b']);
  t.equal(bad.code, 3);
  t.match(shown(bad.stderr), /template hostname "a b" is empty or has whitespace/);
});

t.test('seal refuses while the machine holds a Greengrass identity, unless --remove-identity', async (t) => {
  const root = createDeviceRoot({ hostname: 'gg-golden' });
  t.teardown(() => root.cleanup());
  mkdirSync(join(root.ggRoot, 'config'), { recursive: true });
  writeFileSync(
    root.tlogPath,
    `${JSON.stringify({ TS: Date.now(), TP: ['system', 'thingName'], W: 'changed', V: 'gg-golden' })}\n`,
  );
  writeFileSync(join(root.ggRoot, 'thingCert.crt'), 'cert');
  writeFileSync(join(root.ggRoot, 'privKey.key'), 'key', { mode: 0o600 });
  // what its first boot left besides the identity: the enabled service and the nucleus's log
  mkdirSync(join(root.enabledLink, '..'), { recursive: true });
  symlinkSync('/etc/systemd/system/greengrass.service', root.enabledLink);
  mkdirSync(join(root.ggRoot, 'logs'), { recursive: true });
  writeFileSync(
    join(root.ggRoot, 'logs', 'greengrass.log'),
    'Caught exception while running provisioning plugin. Moving on to run Greengrass without provisioning.\n',
  );
  // and what the nucleus made for its deployed components
  for (const d of [
    'alts/init',
    'packages/artifacts/com.example.App/1.0.0',
    'deployments',
    'work/com.example.App',
    'telemetry',
    'plugins/trusted',
  ])
    mkdirSync(join(root.ggRoot, d), { recursive: true });
  writeFileSync(join(root.ggRoot, 'packages/artifacts/com.example.App/1.0.0/app.py'), 'print(1)\n');
  const refused = await runAgent(root, ['seal']);
  t.equal(refused.code, 3);
  t.match(shown(refused.stderr), /holds the Greengrass identity "gg-golden".*--remove-identity/s);
  t.notOk(existsSync(root.templateHostnameFile), 'nothing recorded');
  t.ok(existsSync(root.tlogPath), 'identity untouched');
  const r = await runAgent(root, ['seal', '--remove-identity']);
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(join(root.ggRoot, 'config')), 'config store removed');
  t.notOk(existsSync(join(root.ggRoot, 'thingCert.crt')), 'device cert removed');
  t.notOk(existsSync(join(root.ggRoot, 'privKey.key')), 'device key removed');
  t.notOk(lexists(root.enabledLink), 'greengrass.service no longer enabled (a clone would only verify, never install)');
  t.notOk(
    existsSync(join(root.ggRoot, 'logs')),
    "the nucleus's log removed (a clone would read its old failures as its own)",
  );
  for (const d of ['alts', 'packages', 'deployments', 'work', 'telemetry', 'plugins'])
    t.notOk(existsSync(join(root.ggRoot, d)), `${d}/ removed (this machine's components are not a clone's)`);
  t.ok(existsSync(root.templatePath), 'installer config template stays');
  t.ok(existsSync(root.claimKeyPath) && existsSync(root.claimCertPath), 'the claim stays');
  t.ok(
    existsSync(root.agent.installer.jar) && existsSync(root.agent.installer.pluginJar),
    'the installer and plugin jars stay',
  );
});

t.test('seal --remove-identity refuses while the nucleus runs (alts/loader.pid alive); nothing removed', async (t) => {
  const root = createDeviceRoot({ hostname: 'gg-golden' });
  t.teardown(() => root.cleanup());
  mkdirSync(join(root.ggRoot, 'config'), { recursive: true });
  writeFileSync(
    root.tlogPath,
    `${JSON.stringify({ TS: Date.now(), TP: ['system', 'thingName'], W: 'changed', V: 'gg-golden' })}\n`,
  );
  mkdirSync(join(root.ggRoot, 'alts'), { recursive: true });
  const nucleus = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => nucleus.kill());
  writeFileSync(join(root.ggRoot, 'alts', 'loader.pid'), `${nucleus.pid}\n`);
  const r = await runAgent(root, ['seal', '--remove-identity']);
  t.equal(r.code, 3, r.stderr);
  t.match(
    r.stderr,
    new RegExp(`the Greengrass nucleus is running \\(pid ${nucleus.pid},.*systemctl stop greengrass\\.service`),
  );
  t.ok(existsSync(root.tlogPath), 'identity untouched');
  t.notOk(existsSync(root.templateHostnameFile), 'nothing recorded');
  nucleus.kill();
  await new Promise((res) => nucleus.once('exit', res));
  const after = await runAgent(root, ['seal', '--remove-identity']);
  t.equal(after.code, 0, after.stderr);
  t.notOk(existsSync(join(root.ggRoot, 'alts')), 'a stale pid file does not block');
});

t.test(
  'seal refuses without the claim (a clone could not provision) and when it cannot record the hostname; nothing removed',
  async (t) => {
    const root = createDeviceRoot({ hostname: 'gg-golden' });
    t.teardown(() => root.cleanup());
    writeFileSync(root.stateFile, '{"runs":1}\n');
    rmSync(root.claimKeyPath);
    const noClaim = await runAgent(root, ['seal']);
    t.equal(noClaim.code, 3, noClaim.stderr);
    t.match(
      noClaim.stderr,
      /the claim certificate or key is missing \(\S*claim\.private\.pem\.key\): clones of this machine could not provision/,
    );
    t.match(noClaim.stderr, /"reason":"claim-missing"/);
    t.notOk(existsSync(root.templateHostnameFile), 'nothing recorded');
    t.ok(existsSync(root.stateFile), 'nothing removed');

    const other = createDeviceRoot({ hostname: 'gg-golden' });
    t.teardown(() => other.cleanup());
    writeFileSync(other.stateFile, '{"runs":1}\n');
    mkdirSync(other.templateHostnameFile, { recursive: true }); // a directory where the file goes
    const unwritable = await runAgent(other, ['seal']);
    t.equal(unwritable.code, 3, unwritable.stderr);
    t.match(unwritable.stderr, /cannot record the template hostname in \S+template-hostname/);
    t.ok(existsSync(other.stateFile), 'nothing removed when the hostname cannot be recorded');
  },
);

t.test('status on a fresh machine and after a permanent failure', async (t) => {
  const root = createDeviceRoot({ hostname: 'localhost' });
  t.teardown(() => root.cleanup());
  const fresh = JSON.parse((await runAgent(root, ['status', '--json'])).stdout);
  t.match(fresh, { provisioned: false, thingName: null, phase: 'new', runs: 0, lastError: null });
  await runAgent(root, ['run']);
  await runAgent(root, ['run']);
  const after = JSON.parse((await runAgent(root, ['status', '--json'])).stdout);
  t.match(after, {
    provisioned: false,
    runs: 2,
    installerAttempts: 0,
    lastError: { reason: 'thing-name-denied', exitCode: 3 },
  });
  const human = await runAgent(root, ['status']);
  t.match(human.stdout, /provisioned:\s+no/);
  t.match(human.stdout, /last error:\s+\[thing-name-denied, exit 3/);
});

t.test('status and run on a state.json with wrongly typed fields: read as unset, counters stay numbers', async (t) => {
  const root = createDeviceRoot({ hostname: 'localhost' });
  t.teardown(() => root.cleanup());
  writeFileSync(
    root.stateFile,
    JSON.stringify({ runs: '2', installerAttempts: -1, phase: 'exploded', thingName: 7, lastError: 'boom' }),
  );
  const before = JSON.parse((await runAgent(root, ['status', '--json'])).stdout);
  t.match(before, {
    provisioned: false,
    runs: 0,
    installerAttempts: 0,
    phase: 'new',
    thingName: null,
    lastError: null,
  });
  const human = await runAgent(root, ['status']);
  t.notMatch(human.stdout, /undefined|native code/);
  await runAgent(root, ['run']);
  const after = JSON.parse(readFileSync(root.stateFile, 'utf8'));
  t.equal(after.runs, 1, 'runs counted from 0, not "2" + 1');
  t.match(after.lastError, { reason: 'thing-name-denied', exitCode: 3 });
});

t.test('the executable needs no node: --version, --help and status run with an empty PATH', async (t) => {
  const root = createDeviceRoot();
  t.teardown(() => root.cleanup());
  const v = await runAgent(root, ['--version'], { PATH: '/nonexistent' });
  t.equal(v.code, 0);
  t.equal(v.stdout.trim(), JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
  const h = await runAgent(root, ['--help'], { PATH: '/nonexistent' });
  t.equal(h.code, 0);
  for (const c of ['run', 'check', 'status', 'seal']) t.match(h.stdout, new RegExp(`greengrass-firstboot ${c}`));
  const s = await runAgent(root, ['status'], { PATH: '/nonexistent' });
  t.equal(s.code, 75, 'not provisioned yet');
  t.match(s.stdout, /provisioned:\s+no/);
});

t.test('status exit codes tell done, stopped and not yet done apart', async (t) => {
  const root = createDeviceRoot({ hostname: 'localhost' });
  t.teardown(() => root.cleanup());
  t.equal((await runAgent(root, ['status', '--json'])).code, 75, 'never run: not done yet');
  await runAgent(root, ['run']);
  const stopped = await runAgent(root, ['status', '--json']);
  t.equal(stopped.code, 3, 'a permanent failure: the unit will not retry');
  t.match(JSON.parse(stopped.stdout), { provisioned: false, lastError: { exitCode: 3 } });
  writeFileSync(
    root.sentinel,
    JSON.stringify({
      thingName: 'branch-017',
      provisionedAt: new Date().toISOString(),
      agentVersion: '0.1.0',
      runs: 1,
      installerAttempts: 1,
      provisioningRetries: 0,
      claimRemoved: true,
    }),
  );
  const done = await runAgent(root, ['status', '--json']);
  t.equal(done.code, 0);
  t.match(JSON.parse(done.stdout), { provisioned: true, thingName: 'branch-017' });
});

t.test('a sentinel that cannot be read is an error for status, check and run, never "provisioned"', async (t) => {
  const root = createDeviceRoot({ hostname: 'branch-017' });
  t.teardown(() => root.cleanup());
  mkdirSync(root.sentinel); // EISDIR: read fails with something other than "missing"
  const st = await runAgent(root, ['status', '--json']);
  t.equal(st.code, 3);
  t.match(
    JSON.parse(st.stdout),
    { error: { reason: 'sentinel-unreadable', exitCode: 3 } },
    '--json prints JSON, errors included',
  );
  t.notMatch(st.stdout, /"provisioned": true/);
  t.match(st.stderr, /cannot read the sentinel \S+provisioned\.json: EISDIR/);
  const check = await runAgent(root, ['check']);
  t.equal(check.code, 3);
  t.match(check.stdout, /FAIL\s+sentinel/);
  const run = await runAgent(root, ['run']);
  t.equal(run.code, 3, 'run does not take an unreadable sentinel for done');
  t.notOk(existsSync(join(root.ggRoot, 'config')), 'nothing installed');
});

t.test("a sentinel that is not the agent's record is reported as such", async (t) => {
  const root = createDeviceRoot({ hostname: 'branch-017' });
  t.teardown(() => root.cleanup());
  writeFileSync(root.sentinel, 'not json\n');
  const st = await runAgent(root, ['status']);
  t.equal(st.code, 3);
  t.match(st.stderr, /the sentinel \S+ is not the agent's record/);
  t.equal(st.stdout, '', 'no half report');
});

t.test(
  'as a non-root user on an unprovisioned clone (state dir 0700): status is an error, not "provisioned"',
  async (t) => {
    if (process.getuid?.() !== 0)
      return t.fail('this test runs as root (it drops to nobody with setpriv): run it as root, as CI does');
    const root = createDeviceRoot({ hostname: 'branch-017' });
    t.teardown(() => root.cleanup());
    const stateDir = join(root.sentinel, '..');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    // Everything else readable by nobody, as on a real machine (/etc/greengrass-firstboot is world-readable).
    spawnSync('chmod', ['-R', 'a+rX', root.dir]);
    spawnSync('chmod', ['0700', stateDir]);
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', EXE, 'status', '--json', '--config', root.configPath],
      { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } },
    );
    t.equal(r.status, 3, r.stderr);
    t.match(JSON.parse(r.stdout), { error: { reason: 'sentinel-unreadable' } });
    t.match(r.stderr, /EACCES \(run as root/);
  },
);

t.test(
  "a clone carrying another machine's identity: check fails as run does, and both advise seal --remove-identity",
  async (t) => {
    const root = createDeviceRoot({ hostname: 'branch-017' });
    t.teardown(() => root.cleanup());
    mkdirSync(join(root.ggRoot, 'config'), { recursive: true });
    writeFileSync(join(root.ggRoot, 'config', 'config.tlog'), identityTlogLines('golden-was-provisioned', root.ggRoot));
    const check = await runAgent(root, ['check']);
    const run = await runAgent(root, ['run']);
    t.equal(run.code, 3);
    t.equal(check.code, run.code, 'check exits as run would');
    t.match(
      check.stdout,
      /FAIL\s+identity\s+the nucleus recorded ThingName "golden-was-provisioned", not "branch-017"/,
    );
    for (const out of [check.stdout, run.stderr]) {
      t.match(out, /seal --remove-identity/);
    }
    t.notOk(existsSync(root.sentinel), 'no sentinel');
    t.ok(existsSync(root.claimKeyPath), 'claim kept');
  },
);
