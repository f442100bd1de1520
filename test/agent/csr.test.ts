// CSR mode end to end: the BUILT agent makes the device key and CSR with openssl, the installer stand-in's plugin
// sends only the CSR (CreateCertificateFromCsr) to the provisioning stand-in, and the core ends provisioned with a
// certificate for the key that never left the device. Failures leave neither file; a re-run keeps a matching pair.
import t, { type Test } from 'tap';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderInstallerConfig } from '../../common/installer-config.ts';
import { defaultCsrPaths } from '../../common/installer-csr.ts';
import { createDeviceRoot, type DeviceRoot } from '../../harness/device-root.ts';
import { ensureBuilt, javaSpy, runAgent, type ExeResult } from '../../harness/agent-exe.ts';
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
import { stackIotPolicies } from '../../cloudformation/template.ts';

ensureBuilt();
const world: World = await startWorld();
t.teardown(() => world.stop());
const REAL_OPENSSL = execFileSync('sh', ['-c', 'command -v openssl'], { encoding: 'utf8' }).trim();

interface CsrDevice {
  root: DeviceRoot;
  key: string;
  csr: string;
  cert: string;
  /** Every openssl command line the agent ran. */
  opensslCalls(): string[];
}

/** A device root whose baked installer config is the builder's CSR mode, openssl behind a spy (or `fake`). */
function csrDevice(t: Test, hostname: string, fake?: string, w: World = world): CsrDevice {
  const root = worldRoot(w, { hostname });
  t.teardown(async () => {
    await stopDevice(root);
    root.cleanup();
  });
  writeFileSync(root.templatePath, renderInstallerConfig({ ...root.settings, ...defaultCsrPaths(root.ggRoot) }));
  const bin = join(root.dir, 'spy-bin');
  mkdirSync(bin, { recursive: true });
  const calls = join(bin, 'openssl-calls.log');
  const spy = join(bin, 'openssl');
  writeFileSync(spy, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\n${fake ?? ''}\nexec '${REAL_OPENSSL}' "$@"\n`, {
    mode: 0o755,
  });
  root.writeAgentConfig({ installer: { openssl: spy } });
  return {
    root,
    key: join(root.ggRoot, 'privKey.key'),
    csr: join(root.ggRoot, 'device.csr'),
    cert: join(root.ggRoot, 'thingCert.crt'),
    opensslCalls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean) : []),
  };
}

/** The base64 lines of a PEM private key: none may show up in output, logs or argv. */
const bodyLines = (pem: string) => pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));

function assertKeyNowhere(t: Test, d: CsrDevice, keyPem: string, runs: ExeResult[]): void {
  const lines = bodyLines(keyPem);
  t.ok(lines.length > 10, 'an RSA key has body lines to look for');
  const places: [string, string][] = [
    ...runs.map((r, i): [string, string] => [`agent output of run ${i + 1}`, r.stdout + r.stderr]),
    ['openssl argv', d.opensslCalls().join('\n')],
  ];
  for (const f of [d.root.nucleusLogPath, join(d.root.ggRoot, 'logs', 'loader.log'), d.root.stateFile])
    if (existsSync(f)) places.push([f, readFileSync(f, 'utf8')]);
  for (const [where, text] of places) {
    t.notOk(
      lines.some((l) => text.includes(l)),
      `device key not in ${where}`,
    );
    t.notMatch(text, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, `no PEM private key in ${where}`);
  }
}

t.test('CSR mode: provisions with a certificate for the key made on the device', async (t) => {
  const d = csrDevice(t, 'gg-csr-0001');
  const r = await runAgent(d.root, ['run']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'provisioned as gg-csr-0001\n');
  t.same(recordedNames(d.root), ['gg-csr-0001']);

  const keyPem = readFileSync(d.key, 'utf8');
  const cert = new X509Certificate(readFileSync(d.cert, 'utf8'));
  t.ok(cert.checkPrivateKey(createPrivateKey(keyPem)), 'the device certificate is for the key made on the device');
  t.match(createPrivateKey(keyPem), { asymmetricKeyType: 'rsa', asymmetricKeyDetails: { modulusLength: 2048 } });
  t.equal(statSync(d.key).mode & 0o777, 0o600, 'device key 0600');
  t.equal(statSync(d.csr).mode & 0o777, 0o644, 'CSR 0644 (public)');
  t.same(
    readdirSync(d.root.ggRoot).filter((f) => f.endsWith('.tmp')),
    [],
    'no staging file left',
  );
  const reg = world.prov.registrations.find((x) => x.thingName === 'gg-csr-0001');
  t.equal(reg?.certificateId, cert.fingerprint256.replace(/:/g, '').toLowerCase(), 'AWS registered that certificate');

  // The plugin sent the CSR, never asked AWS for a key, and handed the nucleus the device's key.
  const nucleusLog = readFileSync(d.root.nucleusLogPath, 'utf8');
  const steps = [
    'Subscribed to CreatedCertificateFromCsrAccepted', // sic: the plugin's own spelling
    'Subscribed to CreateCertificateFromCsrRejected',
    'Published to CreateCertificateFromCsr',
    'Received register thing response for thing name gg-csr-0001',
  ].map((m) => nucleusLog.indexOf(`com.aws.greengrass.IotIdentityHelper: ${m}.`));
  t.ok(
    steps.every((at, i) => at >= 0 && (i === 0 || at > steps[i - 1]!)),
    `the plugin's log lines, in order (${steps.join(', ')})`,
  );
  t.notMatch(nucleusLog, /CreateKeysAndCertificate/);
  const keyPaths = readFileSync(d.root.tlogPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.TP.join('.') === 'system.privateKeyPath')
    .map((r) => r.V);
  t.same(keyPaths, [d.key], "the nucleus's system.privateKeyPath is the device's key");
  t.notOk(existsSync(d.root.claimKeyPath), 'claim key removed');

  // openssl was given paths only: the key came back on its stdout.
  const calls = d.opensslCalls();
  t.match(calls[0], /^genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048$/);
  t.ok(
    calls.some((c) => c.startsWith(`req -new -sha256 -key ${d.key} -subj /CN=gg-csr-0001`)),
    'CSR made from the key file, named after the ThingName',
  );
  const again = await runAgent(d.root, ['run']);
  t.equal(again.stdout, 'already provisioned as gg-csr-0001\n');
  t.equal(readFileSync(d.key, 'utf8'), keyPem, 'the key is never replaced once provisioned');
  assertKeyNowhere(t, d, keyPem, [r, again]);
  await stopDevice(d.root);
  t.same(processesUnder(d.root.dir), [], 'no stand-in process left behind');
});

t.test('a re-run keeps a matching key and CSR, and replaces a lone key', async (t) => {
  const kept = csrDevice(t, 'gg-csr-0002');
  const quiet = { stdio: 'ignore' } as const;
  execFileSync(
    REAL_OPENSSL,
    ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', kept.key],
    quiet,
  );
  execFileSync(REAL_OPENSSL, ['req', '-new', '-key', kept.key, '-subj', '/CN=earlier', '-out', kept.csr], quiet);
  const earlier = readFileSync(kept.key, 'utf8');
  const r = await runAgent(kept.root, ['run']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /device key and CSR from an earlier run belong together; keeping them/);
  t.equal(readFileSync(kept.key, 'utf8'), earlier, 'the earlier key is kept');
  t.equal(statSync(kept.key).mode & 0o777, 0o600, 'and made 0600');
  t.ok(new X509Certificate(readFileSync(kept.cert)).checkPrivateKey(createPrivateKey(earlier)), 'certificate for it');
  await stopDevice(kept.root);

  const lone = csrDevice(t, 'gg-csr-0003');
  const stray = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  writeFileSync(lone.key, stray, { mode: 0o600 });
  const r2 = await runAgent(lone.root, ['run']);
  t.equal(r2.code, 0, r2.stderr);
  t.match(r2.stderr, /incomplete or do not match; making new ones/);
  const made = readFileSync(lone.key, 'utf8');
  t.not(made, stray, 'a lone key (power lost before its CSR) is replaced');
  t.ok(new X509Certificate(readFileSync(lone.cert)).checkPrivateKey(createPrivateKey(made)), 'certificate for it');
  await stopDevice(lone.root);
});

t.test('openssl failing to make the CSR: exit 75, neither file left, installer never started', async (t) => {
  const d = csrDevice(
    t,
    'gg-csr-0004',
    `case "$1 $2" in "req -new") echo "req: Error making certificate request (injected)" >&2; exit 1;; esac`,
  );
  const spy = javaSpy(d.root);
  d.root.writeAgentConfig({ installer: { java: spy.path } });
  const r = await runAgent(d.root, ['run']);
  t.equal(r.code, 75, r.stderr);
  t.match(r.stderr, /openssl req failed \(exit 1\): req: Error making certificate request \(injected\)/);
  t.match(r.stderr, /"reason":"device-key-failed"/);
  t.notOk(existsSync(d.key), 'no device key left');
  t.notOk(existsSync(d.csr), 'no CSR left');
  t.same(
    readdirSync(d.root.ggRoot).filter((f) => f.endsWith('.tmp')),
    [],
    'no staging file left',
  );
  t.same(
    spy.calls().filter((c) => c.includes('-jar')),
    [],
    'the installer was never started',
  );
  t.ok(existsSync(d.root.claimKeyPath), 'claim kept for the next try');
  t.notOk(existsSync(d.root.sentinel));
  const status = JSON.parse((await runAgent(d.root, ['status', '--json'])).stdout);
  t.match(status, { provisioned: false, lastError: { reason: 'device-key-failed', exitCode: 75 } });
});

t.test('openssl missing: exit 3 (permanent), nothing written', async (t) => {
  const d = csrDevice(t, 'gg-csr-0005');
  d.root.writeAgentConfig({ installer: { openssl: join(d.root.dir, 'no-such-openssl') } });
  const r = await runAgent(d.root, ['run']);
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /cannot run openssl \(.*no-such-openssl: ENOENT\): CSR mode .* needs it/);
  t.notOk(existsSync(d.key) || existsSync(d.csr), 'no key or CSR');
  t.notOk(existsSync(join(d.root.ggRoot, 'config')), 'installer never ran');
});

t.test("CSR mode under the stack's IoT policies: the claim may ask for a certificate from a CSR", async (t) => {
  const stack = { region: 'us-east-1', accountId: '123456789012' };
  const prov = await startProvisioningStandin({
    ca: world.ca,
    templateName: TEMPLATE_NAME,
    policies: stackIotPolicies(stack),
    ...stack,
  });
  t.teardown(() => prov.stop());
  const d = csrDevice(t, 'gg-csr-0006', undefined, { ...world, prov });
  const r = await runAgent(d.root, ['run']);
  t.equal(r.code, 0, r.stderr);
  t.same(
    prov.registrations.map((x) => x.thingName),
    ['gg-csr-0006'],
    'registered through the CSR flow the claim policy allows',
  );
  t.ok(new X509Certificate(readFileSync(d.cert)).checkPrivateKey(createPrivateKey(readFileSync(d.key))));
  await stopDevice(d.root);
});

t.test('seal removes a device key and CSR: clones of the template would otherwise share that key', async (t) => {
  const root = createDeviceRoot({ hostname: 'gg-golden', settings: {} });
  t.teardown(() => root.cleanup());
  const paths = {
    csrPath: join(root.ggRoot, 'csr', 'device.csr'),
    csrPrivateKeyPath: join(root.ggRoot, 'csr', 'k.pem'),
  };
  writeFileSync(root.templatePath, renderInstallerConfig({ ...root.settings, ...paths }));
  mkdirSync(join(root.ggRoot, 'csr'));
  // The golden VM ran the agent once (it made its key and CSR, then failed, e.g. offline) before being sealed.
  writeFileSync(paths.csrPath, 'CSR of the golden VM\n');
  writeFileSync(paths.csrPrivateKeyPath, 'key of the golden VM\n', { mode: 0o600 });
  const r = await runAgent(root, ['seal']);
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(paths.csrPath), 'CSR removed');
  t.notOk(existsSync(paths.csrPrivateKeyPath), 'device key removed');
  t.ok(existsSync(root.claimKeyPath), 'claim kept (the image needs it)');
});

t.test('a device key kept apart from privateKeyPath: the plugin copies it there, owner-only', async (t) => {
  const d = csrDevice(t, 'gg-csr-0007');
  const keyDir = join(d.root.ggRoot, 'device-key');
  const own = { csrPath: join(keyDir, 'device.csr'), csrPrivateKeyPath: join(keyDir, 'device.key') };
  writeFileSync(d.root.templatePath, renderInstallerConfig({ ...d.root.settings, ...own }));
  const r = await runAgent(d.root, ['run']);
  t.equal(r.code, 0, r.stderr);
  t.equal(statSync(keyDir).mode & 0o777, 0o700, 'the key directory the agent made is 0700');
  const made = readFileSync(own.csrPrivateKeyPath, 'utf8');
  t.equal(readFileSync(d.key, 'utf8'), made, 'privateKeyPath holds a copy of the device key');
  t.equal(statSync(d.key).mode & 0o777, 0o600, 'the copy is 0600');
  t.equal(statSync(own.csrPrivateKeyPath).mode & 0o777, 0o600, 'the original is 0600');
  t.ok(new X509Certificate(readFileSync(d.cert)).checkPrivateKey(createPrivateKey(made)), 'certificate for it');
  assertKeyNowhere(t, d, made, [r]);
  await stopDevice(d.root);
});

t.test('check reports whether openssl can make the device key (CSR mode only)', async (t) => {
  const d = csrDevice(t, 'gg-csr-0008');
  const ok = await runAgent(d.root, ['check']);
  t.equal(ok.code, 0, ok.stdout);
  t.match(
    ok.stdout,
    new RegExp(`^ok\\s+device-key\\s+OpenSSL \\S+.*: makes the key ${d.key} and the CSR ${d.csr}`, 'm'),
  );
  t.notOk(existsSync(d.key) || existsSync(d.csr), 'check makes nothing');

  d.root.writeAgentConfig({ installer: { openssl: join(d.root.dir, 'no-such-openssl') } });
  const missing = await runAgent(d.root, ['check', '--json']);
  t.equal(missing.code, 3, missing.stdout);
  t.match(JSON.parse(missing.stdout).steps, [
    {},
    {},
    {},
    {},
    {},
    {},
    {},
    { step: 'device-key', ok: false, reason: 'openssl-missing' },
  ]);

  const plain = worldRoot(world, { hostname: 'gg-csr-0009' });
  t.teardown(() => plain.cleanup());
  const no = await runAgent(plain, ['check']);
  t.match(no.stdout, /^ok\s+device-key\s+not needed: AWS makes the key \(no csrPath in the installer config\)$/m);
});
