// Every bad input to the BUILT agent gives its specific message and exit code, writes no sentinel
// and no rendered config, and never starts the installer (a java spy records every java call).
import t, { type Test } from 'tap';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDeviceRoot,
  writeFakeRpctool,
  type DeviceRoot,
  type DeviceRootOptions,
} from '../../harness/device-root.ts';
import {
  EXE,
  SYSTEM_PATH,
  closedPort,
  javaSpy,
  logLines,
  runAgent,
  tcpListener,
  ensureBuilt,
} from '../../harness/agent-exe.ts';
import { issueCertificate } from '../../standins/pki.ts';
import { startConnectProxy } from '../../harness/connect-proxy.ts';

ensureBuilt();
const endpoint = await tcpListener();
t.teardown(() => endpoint.close());

interface Case {
  name: string;
  opts?: DeviceRootOptions;
  setup?: (root: DeviceRoot) => void;
  code: number;
  message: RegExp;
  reason: string;
}

const CONFIG = 3;
const TRANSIENT = 75;

function hostCase(hostname: string, message: RegExp, reason: string, extra: DeviceRootOptions = {}): Case {
  return { name: `hostname ${JSON.stringify(hostname)}`, opts: { hostname, ...extra }, code: CONFIG, message, reason };
}

const cases: Case[] = [
  hostCase('localhost', /"localhost" is on the deny list/, 'thing-name-denied'),
  hostCase('ubuntu', /"ubuntu" is on the deny list/, 'thing-name-denied'),
  hostCase('gg-golden', /"gg-golden" is the golden image's own hostname/, 'thing-name-template-hostname', {
    templateHostname: 'gg-golden',
  }),
  hostCase('GG-Golden', /is the golden image's own hostname/, 'thing-name-template-hostname', {
    templateHostname: 'gg-golden',
  }),
  hostCase('kiosk-demo', /"kiosk-demo" is on the deny list/, 'thing-name-denied', {
    agent: { thingName: { deny: ['kiosk-demo'] } },
  }),
  hostCase('gg-01.corp.example.com', /looks like an FQDN.*thingName\.fqdn/, 'thing-name-fqdn'),
  hostCase('my host', /"my host" has characters AWS IoT does not allow/, 'thing-name-invalid-characters'),
  hostCase('gg"01\'x', /has characters AWS IoT does not allow/, 'thing-name-invalid-characters'),
  hostCase(
    ' branch-017 ',
    /^the hostname " branch-017 " \(\S+\) has whitespace around it; set it without \(hostnamectl hostname branch-017\)/,
    'hostname-whitespace',
  ),
  hostCase('gg: {x: 1}', /has characters AWS IoT does not allow/, 'thing-name-invalid-characters'),
  hostCase('- gg #1', /has characters AWS IoT does not allow/, 'thing-name-invalid-characters'),
  hostCase('gg:01', /contains ':' which the Greengrass installer rejects/, 'thing-name-colon'),
  hostCase('', /ThingName is empty/, 'thing-name-empty'),
  hostCase('a'.repeat(129), /is 129 characters; AWS IoT allows at most 128/, 'thing-name-too-long'),
  {
    name: 'guestinfo source with the key unset',
    opts: { agent: { thingName: { source: 'guestinfo', guestinfoKey: 'thing-name' } } },
    setup: (root) => writeFakeRpctool(root, { 'other-key': 'x' }),
    code: CONFIG,
    message: /guestinfo\.thing-name is not set on this VM/,
    reason: 'guestinfo-unset',
  },
  {
    name: 'serial source with a firmware placeholder serial',
    opts: { dmiSerial: 'To be filled by O.E.M.', agent: { thingName: { source: 'serial' } } },
    code: CONFIG,
    message: /DMI serial .* is "To be filled by O\.E\.M\.", a firmware placeholder/,
    reason: 'dmi-placeholder',
  },
  {
    name: 'missing installer config template',
    setup: (root) => rmSync(root.templatePath),
    code: CONFIG,
    message: /installer config template .*config\.yaml does not exist/,
    reason: 'installer-config-missing',
  },
  {
    name: 'malformed installer config template',
    opts: { templateText: 'services: [1\n' },
    code: CONFIG,
    message: /installer config template .* is not valid YAML/,
    reason: 'installer-config-yaml',
  },
  {
    name: 'template missing keys the plugin requires',
    opts: {
      templateText:
        'services:\n  aws.greengrass.Nucleus: {version: 2.16.0}\n  aws.greengrass.FleetProvisioningByClaim:\n    configuration: {rootPath: /greengrass/v2}\n',
    },
    code: CONFIG,
    message: /provisioningTemplate is required/,
    reason: 'installer-config-invalid',
  },
  {
    name: 'template without the {{thingName}} placeholder',
    opts: { settings: {} },
    setup: (root) =>
      writeFileSync(
        root.templatePath,
        readFileSync(root.templatePath, 'utf8')
          .replace('"{{thingName}}"', 'fixed-name')
          .replace("'{{thingName}}'", 'fixed-name'),
      ),
    code: CONFIG,
    message: /templateParameters has no \{\{thingName\}\} placeholder/,
    reason: 'installer-config-no-thing-name',
  },
  {
    name: 'missing installer jar',
    setup: (root) => rmSync(root.agent.installer.jar),
    code: CONFIG,
    message: /installer jar .*Greengrass\.jar does not exist/,
    reason: 'installer-jar-missing',
  },
  {
    name: 'missing plugin jar',
    setup: (root) => rmSync(root.agent.installer.pluginJar),
    code: CONFIG,
    message: /fleet provisioning plugin jar .* does not exist/,
    reason: 'plugin-jar-missing',
  },
  {
    name: 'missing java',
    setup: (root) => root.writeAgentConfig({ installer: { java: join(root.dir, 'no-such-jre', 'bin', 'java') } }),
    code: CONFIG,
    message: /java not found .*needs a Java 8\+ runtime/,
    reason: 'java-missing',
  },
  {
    name: 'java older than required',
    setup: (root) => root.writeAgentConfig({ installer: { minJavaVersion: 99 } }),
    code: CONFIG,
    message: /java \d+ is too old: the Greengrass nucleus needs Java 99 or later/,
    reason: 'java-too-old',
  },
  {
    name: 'missing claim certificate',
    setup: (root) => rmSync(root.claimCertPath),
    code: CONFIG,
    message: /claim certificate .*claim\.pem\.crt does not exist/,
    reason: 'claim-cert-missing',
  },
  {
    name: 'missing claim key',
    setup: (root) => rmSync(root.claimKeyPath),
    code: CONFIG,
    message: /claim private key .* does not exist/,
    reason: 'claim-key-missing',
  },
  {
    name: 'missing root CA',
    setup: (root) => rmSync(root.rootCaPath),
    code: CONFIG,
    message: /root CA .*AmazonRootCA1\.pem does not exist/,
    reason: 'root-ca-missing',
  },
  {
    name: 'claim key that does not match the certificate',
    setup: (root) =>
      writeFileSync(root.claimKeyPath, issueCertificate(root.ca, { commonName: 'other' }).privateKeyPem, {
        mode: 0o600,
      }),
    code: CONFIG,
    message: /claim private key does not match the claim certificate/,
    reason: 'key-cert-mismatch',
  },
  {
    name: 'claim certificate that is not PEM',
    setup: (root) => writeFileSync(root.claimCertPath, 'hello\n'),
    code: CONFIG,
    message: /claim certificate \S*claim\.pem\.crt is not a PEM certificate/,
    reason: 'claim-cert-not-pem',
  },
  {
    name: 'empty claim certificate',
    setup: (root) => writeFileSync(root.claimCertPath, ''),
    code: CONFIG,
    message: /^claim certificate \S*claim\.pem\.crt cannot be used: the file is empty$/,
    reason: 'claim-cert-empty',
  },
  {
    name: 'claim certificate in DER',
    setup: (root) => writeFileSync(root.claimCertPath, new X509Certificate(root.claim.certificatePem).raw),
    code: CONFIG,
    message:
      /^claim certificate \S+ cannot be used: it is DER \(binary\), not PEM; convert it with openssl x509 -inform DER/,
    reason: 'claim-cert-not-pem',
  },
  {
    name: 'claim private key protected by a passphrase',
    setup: (root) =>
      writeFileSync(
        root.claimKeyPath,
        createPrivateKey(root.claim.privateKeyPem).export({
          type: 'pkcs8',
          format: 'pem',
          cipher: 'aes-256-cbc',
          passphrase: 'secret',
        }),
        { mode: 0o600 },
      ),
    code: CONFIG,
    message: /^claim private key \S+ is protected by a passphrase; the nucleus reads it without one/,
    reason: 'key-encrypted',
  },
  {
    name: 'empty claim private key',
    setup: (root) => writeFileSync(root.claimKeyPath, '\n', { mode: 0o600 }),
    code: CONFIG,
    message: /^claim private key \S+ cannot be used: the file is empty$/,
    reason: 'claim-key-empty',
  },
  {
    name: 'claim private key that is not PEM',
    setup: (root) => writeFileSync(root.claimKeyPath, 'this is not a key, just text\n', { mode: 0o600 }),
    code: CONFIG,
    message: /claim private key \S+ is not a PEM private key/,
    reason: 'key-not-pem',
  },
  {
    name: 'claim private key that is PEM-framed but unparseable',
    setup: (root) =>
      writeFileSync(
        root.claimKeyPath,
        '-----BEGIN PRIVATE KEY-----\nbm90IGEgREVSIGVuY29kZWQga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n',
        { mode: 0o600 },
      ),
    code: CONFIG,
    message: /claim private key \S+ cannot be parsed as a private key/,
    reason: 'key-unparseable',
  },
  {
    name: 'root CA that is not PEM',
    setup: (root) => writeFileSync(root.rootCaPath, 'Amazon Root CA 1 goes here\n'),
    code: CONFIG,
    message: /root CA .*AmazonRootCA1\.pem is not a PEM certificate/,
    reason: 'root-ca-not-pem',
  },
  {
    name: 'expired claim certificate',
    setup: (root) => {
      const old = issueCertificate(root.ca, { commonName: 'claim', notBeforeOffsetDays: -30, days: 10 });
      writeFileSync(root.claimCertPath, old.certificatePem);
      writeFileSync(root.claimKeyPath, old.privateKeyPem, { mode: 0o600 });
    },
    code: CONFIG,
    message: /the claim certificate expired at/,
    reason: 'claim-cert-expired',
  },
  {
    name: 'clock before the claim certificate (not set yet), past the wait bound',
    setup: (root) => {
      const future = issueCertificate(root.ca, { commonName: 'claim', notBeforeOffsetDays: 2, days: 10 });
      writeFileSync(root.claimCertPath, future.certificatePem);
      writeFileSync(root.claimKeyPath, future.privateKeyPem, { mode: 0o600 });
      root.writeAgentConfig({ preflight: { clockWaitSeconds: 1 } });
    },
    code: TRANSIENT,
    message: /before the claim certificate's notBefore .*time is not synchronised yet/,
    reason: 'clock-not-set',
  },
  {
    name: 'clock behind the image build time (template mtime in the future), past the wait bound',
    setup: (root) => {
      const future = new Date(Date.now() + 86400_000);
      utimesSync(root.templatePath, future, future);
      root.writeAgentConfig({ preflight: { clockWaitSeconds: 1 } });
    },
    code: TRANSIENT,
    message: /is before the image build time .*time is not synchronised yet/,
    reason: 'clock-not-set',
  },
  {
    name: 'bad agent config key',
    setup: (root) =>
      writeFileSync(root.configPath, `${readFileSync(root.configPath, 'utf8')}\nverfy:\n  timeoutSeconds: 3\n`),
    code: CONFIG,
    message: /unknown section "verfy"/,
    reason: 'agent-config-invalid',
  },
  {
    name: 'relative path in agent config',
    setup: (root) => root.writeAgentConfig({ state: { sentinel: 'provisioned.json' } }),
    code: CONFIG,
    message: /state\.sentinel must be an absolute path/,
    reason: 'agent-config-invalid',
  },
  {
    // one path for both: the state.json of a failed run would read as the sentinel ("already provisioned")
    name: 'state.sentinel and state.stateFile the same file',
    setup: (root) => root.writeAgentConfig({ state: { sentinel: root.stateFile } }),
    code: CONFIG,
    message: /state\.stateFile and state\.sentinel must be different files/,
    reason: 'agent-config-invalid',
  },
  {
    name: 'inherited property name as an agent config key',
    setup: (root) =>
      writeFileSync(root.configPath, `${readFileSync(root.configPath, 'utf8')}\nconstructor:\n  name: x\n`),
    code: CONFIG,
    message: /unknown section "constructor"/,
    reason: 'agent-config-invalid',
  },
  {
    name: 'endpoint connect timeout of 0 ms',
    opts: { agent: { preflight: { connectTimeoutMs: 0 } } },
    code: CONFIG,
    message: /preflight\.connectTimeoutMs must be > 0/,
    reason: 'agent-config-invalid',
  },
  {
    name: 'state file path taken by a directory',
    setup: (root) => mkdirSync(root.stateFile, { recursive: true }),
    code: CONFIG,
    message: /cannot write \S*state\.json: EISDIR/,
    reason: 'state-unwritable',
  },
  {
    name: 'proxy URL whose password is not valid percent-encoding',
    opts: { settings: { proxyUrl: 'http://gg:50%off@127.0.0.1:3128' } },
    code: CONFIG,
    message: /proxyUrl's password is not valid percent-encoding/,
    reason: 'proxy-url-invalid',
  },
];

async function expectRefused(
  t: Test,
  root: DeviceRoot,
  spy: ReturnType<typeof javaSpy>,
  c: Pick<Case, 'code' | 'message' | 'reason'>,
): Promise<void> {
  const r = await runAgent(root, ['run', '--log-format', 'json']);
  t.equal(r.code, c.code, `exit code ${c.code}`);
  const errors = logLines(r.stderr).filter((j) => (j.level as number) >= 50);
  t.equal(errors.length, 1, 'one error event');
  t.match(errors[0]?.msg, c.message, 'specific message');
  t.equal(errors[0]?.reason, c.reason, `logged with reason ${c.reason}`);
  t.notOk(existsSync(root.sentinel), 'no sentinel');
  t.notOk(existsSync(root.renderedConfig), 'no rendered installer config');
  t.notOk(existsSync(join(root.ggRoot, 'config')), 'no Greengrass config store');
  t.same(
    spy.calls().filter((c) => c.includes('-jar')),
    [],
    'the installer was never started',
  );
  t.ok(existsSync(root.claimKeyPath) || c.reason === 'claim-key-missing', 'claim key left in place');
  // (the key's body lines are checked on every run by startAgent; this catches a PEM header, raw or JSON-escaped)
  t.notMatch(r.stderr + r.stdout, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'no PEM private key in output');
}

t.test(
  'a refused ThingName stays the error when state.json cannot be written either (no internal error, no temp file)',
  async (t) => {
    const root = createDeviceRoot({ hostname: 'localhost' });
    t.teardown(() => root.cleanup());
    mkdirSync(root.stateFile, { recursive: true });
    const r = await runAgent(root, ['run']);
    t.equal(r.code, CONFIG, r.stderr);
    t.match(r.stderr, /"reason":"thing-name-denied"/);
    t.match(
      r.stderr,
      /This failure is not recorded in state\.json, so status will not show it: cannot write \S*state\.json: EISDIR/,
    );
    t.notMatch(r.stderr, /internal error/);
    t.same(
      readdirSync(join(root.stateFile, '..')).filter((f) => f.endsWith('.tmp')),
      [],
      'no temp file left',
    );
  },
);

for (const c of cases) {
  t.test(c.name, async (t) => {
    const root = createDeviceRoot({ endpoint: { host: '127.0.0.1', port: endpoint.port }, ...c.opts });
    t.teardown(() => root.cleanup());
    const spy = javaSpy(root);
    root.writeAgentConfig({ installer: { java: spy.path } });
    c.setup?.(root);
    await expectRefused(t, root, spy, c);
    if (c.reason !== 'agent-config-invalid' && c.reason !== 'state-unwritable') {
      // (no state.json to show it in)
      const st = await runAgent(root, ['status', '--json']);
      t.equal(
        st.code,
        c.code === CONFIG || c.code === 2 ? CONFIG : 75,
        'status: stopped (3) or not yet done (75), as the run ended',
      );
      const s = JSON.parse(st.stdout);
      t.equal(s.provisioned, false, 'status: not provisioned');
      t.equal(s.lastError?.reason, c.reason, 'status shows the last error');
      t.equal(s.installerAttempts, 0, 'status: no installer attempts');
    }
  });
}

t.test('unreachable endpoint past its bound: transient, after waiting about the bound', async (t) => {
  const port = await closedPort();
  const root = createDeviceRoot({ endpoint: { host: '127.0.0.1', port } });
  t.teardown(() => root.cleanup());
  const spy = javaSpy(root);
  root.writeAgentConfig({ installer: { java: spy.path }, preflight: { networkWaitSeconds: 2 } });
  const started = Date.now();
  await expectRefused(t, root, spy, {
    code: TRANSIENT,
    message: new RegExp(`endpoint 127\\.0\\.0\\.1:${port} is unreachable .*after waiting 2 s`),
    reason: 'endpoint-unreachable',
  });
  const ms = Date.now() - started;
  t.ok(ms >= 1900 && ms < 10_000, `waited ${ms} ms for a 2 s bound`);
  const retries = (await runAgent(root, ['status', '--json']).then((r) => JSON.parse(r.stdout))).lastError;
  t.equal(retries.exitCode, TRANSIENT);
});

t.test('FQDN with thingName.fqdn: short is accepted as the first label (check, nothing written)', async (t) => {
  const root = createDeviceRoot({
    hostname: 'gg-07.corp.example.com',
    endpoint: { host: '127.0.0.1', port: endpoint.port },
    agent: { thingName: { fqdn: 'short' } },
  });
  t.teardown(() => root.cleanup());
  const r = await runAgent(root, ['check', '--json']);
  t.equal(r.code, 0, r.stdout);
  t.equal(JSON.parse(r.stdout).thingName, 'gg-07');
  t.match(
    JSON.parse(r.stdout).steps,
    [
      {},
      {},
      { step: 'thing-name', ok: true, detail: 'gg-07 (hostname gg-07.corp.example.com, thingName.fqdn: short)' },
    ],
    'the rewrite is reported, not silent',
  );
  t.notOk(existsSync(root.renderedConfig), 'check writes nothing');
  t.notOk(existsSync(root.stateFile), 'check writes no state');
});

t.test('FQDN rewritten by thingName.fqdn: run logs the hostname the ThingName came from', async (t) => {
  const root = createDeviceRoot({
    hostname: 'gg-08.corp.example.com',
    endpoint: { host: '127.0.0.1', port: await closedPort() },
    agent: { thingName: { fqdn: 'dashes' }, preflight: { networkWaitSeconds: 0 } },
  });
  t.teardown(() => root.cleanup());
  const r = await runAgent(root, ['run']);
  t.equal(r.code, TRANSIENT, r.stderr);
  const resolved = logLines(r.stderr).find((j) => j.source === 'hostname');
  t.equal(
    resolved?.msg,
    'ThingName gg-08-corp-example-com taken from the hostname (the hostname gg-08.corp.example.com is a domain name; thingName.fqdn dashes turns its dots into dashes)',
  );
  t.match(resolved, {
    thingName: 'gg-08-corp-example-com',
    source: 'hostname',
    hostname: 'gg-08.corp.example.com',
    fqdn: 'dashes',
  });
});

t.test('usage errors exit 2', async (t) => {
  const root = createDeviceRoot();
  t.teardown(() => root.cleanup());
  const r = await runAgent(root, ['provision']);
  t.equal(r.code, 2);
  t.equal(
    r.stderr,
    'error: unknown command "provision" (commands: run, check, status, seal); run greengrass-firstboot --help for usage\n',
    'one line naming what was typed',
  );
  const flag = await runAgent(root, ['run', '--colour=no']);
  t.match(flag.stderr, /^error: unknown option --colour; run greengrass-firstboot --help for usage\n$/);
  // yargs' own argument errors are usage errors too, not internal errors with a stack trace
  for (const args of [
    ['run', '--config'],
    ['run', '--config', ''],
    ['check', '--log-level'],
    ['status', '--log-level', 'loud', '--config', root.configPath],
  ]) {
    const bad = spawnSync(EXE, args, { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
    t.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    t.match(
      bad.stderr,
      /^error: (--(config|log-level) needs a value|--config needs a path \(it is empty\)|--log-level "loud" is not one of trace, debug, info, warn, error, fatal); run greengrass-firstboot --help for usage\n$/,
    );
    t.notMatch(bad.stderr, /internal error|\n\s+at /, 'no stack trace');
  }
});

t.test('missing agent config exits 3 with the path', async (t) => {
  const root = createDeviceRoot();
  t.teardown(() => root.cleanup());
  rmSync(root.configPath);
  const r = await runAgent(root, ['run']);
  t.equal(r.code, 3);
  t.match(r.stderr, /cannot read agent config .*agent\.yaml: no such file/);
});

t.test('unreachable proxy: the endpoint check goes through the configured proxy', async (t) => {
  const port = await closedPort();
  const root = createDeviceRoot({
    endpoint: { host: '127.0.0.1', port: endpoint.port },
    settings: { proxyUrl: `http://127.0.0.1:${port}` },
  });
  t.teardown(() => root.cleanup());
  const spy = javaSpy(root);
  root.writeAgentConfig({ installer: { java: spy.path }, preflight: { networkWaitSeconds: 1 } });
  await expectRefused(t, root, spy, {
    code: TRANSIENT,
    message: new RegExp(
      `endpoint 127\\.0\\.0\\.1:${endpoint.port} \\(through proxy 127\\.0\\.0\\.1:${port}\\) is unreachable`,
    ),
    reason: 'endpoint-unreachable',
  });
});

t.test('check reports every step in one go and exits with the permanent failure', async (t) => {
  const root = createDeviceRoot({ hostname: 'gg-check-1', endpoint: { host: '127.0.0.1', port: await closedPort() } });
  t.teardown(() => root.cleanup());
  rmSync(root.agent.installer.pluginJar);
  const r = await runAgent(root, ['check']);
  t.equal(r.code, 3, 'permanent (missing jar) outranks transient (endpoint)');
  t.match(r.stdout, /^ok\s+thing-name\s+gg-check-1$/m);
  t.match(r.stdout, /^ok\s+java\s+java \d+/m);
  t.match(r.stdout, /^FAIL\s+installer-jars\s+fleet provisioning plugin jar .* does not exist$/m);
  t.match(r.stdout, /^ok\s+claim-certificate\s+CN=claim/m);
  t.match(r.stdout, /^FAIL\s+endpoint\s+the IoT data endpoint 127\.0\.0\.1:\d+ is unreachable/m);
  t.notOk(existsSync(root.stateFile), 'check writes no state');
});

t.test('proxy: check opens a CONNECT tunnel to the endpoint with the configured credentials', async (t) => {
  const proxy = await startConnectProxy({ username: 'gg', password: 's3cret-Proxy' });
  t.teardown(() => proxy.close());
  const root = createDeviceRoot({
    endpoint: { host: '127.0.0.1', port: endpoint.port },
    settings: { proxyUrl: `http://127.0.0.1:${proxy.port}`, proxyUsername: 'gg', proxyPassword: 's3cret-Proxy' },
  });
  t.teardown(() => root.cleanup());
  const r = await runAgent(root, ['check']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(
    r.stdout,
    new RegExp(
      `^ok\\s+endpoint\\s+127\\.0\\.0\\.1:${endpoint.port} \\(through proxy 127\\.0\\.0\\.1:${proxy.port}\\) reachable$`,
      'm',
    ),
  );
  t.same(
    proxy.requests.map((x) => x.target),
    [`127.0.0.1:${endpoint.port}`],
    'the proxy was asked for a tunnel to the MQTT endpoint',
  );
  t.notOk((r.stdout + r.stderr).includes('s3cret-Proxy'), 'the proxy password is not printed');
});

t.test('proxy: credentials in the proxy URL are used when the config has none', async (t) => {
  const proxy = await startConnectProxy({ username: 'url-user', password: 'p@ss' });
  t.teardown(() => proxy.close());
  const root = createDeviceRoot({
    endpoint: { host: '127.0.0.1', port: endpoint.port },
    settings: { proxyUrl: `http://url-user:p%40ss@127.0.0.1:${proxy.port}` },
  });
  t.teardown(() => root.cleanup());
  const r = await runAgent(root, ['check']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.equal(proxy.requests[0]?.authorization, `Basic ${Buffer.from('url-user:p@ss').toString('base64')}`);
});

t.test('proxy: wrong credentials are a permanent error (exit 3), nothing started or written', async (t) => {
  const proxy = await startConnectProxy({ username: 'gg', password: 'right' });
  t.teardown(() => proxy.close());
  const root = createDeviceRoot({
    endpoint: { host: '127.0.0.1', port: endpoint.port },
    settings: { proxyUrl: `http://127.0.0.1:${proxy.port}`, proxyUsername: 'gg', proxyPassword: 'wrong-Secret' },
  });
  t.teardown(() => root.cleanup());
  const spy = javaSpy(root);
  root.writeAgentConfig({ installer: { java: spy.path } });
  await expectRefused(t, root, spy, {
    code: CONFIG,
    message: /the proxy refused the credentials \(HTTP 407/,
    reason: 'proxy-auth-failed',
  });
  t.equal(proxy.requests.length, 1, 'asked once: a permanent error is not retried');
});

t.test("proxy up, endpoint down: the proxy's 502 is a transient failure after the wait bound", async (t) => {
  const proxy = await startConnectProxy();
  t.teardown(() => proxy.close());
  const down = await closedPort();
  const root = createDeviceRoot({
    endpoint: { host: '127.0.0.1', port: down },
    settings: { proxyUrl: `http://127.0.0.1:${proxy.port}` },
  });
  t.teardown(() => root.cleanup());
  const spy = javaSpy(root);
  root.writeAgentConfig({ installer: { java: spy.path }, preflight: { networkWaitSeconds: 1 } });
  await expectRefused(t, root, spy, {
    code: TRANSIENT,
    message: /the proxy answered CONNECT with HTTP 502/,
    reason: 'endpoint-unreachable',
  });
  t.ok(proxy.requests.length >= 2, `retried through the proxy (${proxy.requests.length} CONNECTs)`);
});

t.test('https proxy with a certificate nobody trusts: transient failure, the credentials are never sent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gg-proxy-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'p.key'),
      '-out',
      join(dir, 'p.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const proxy = await startConnectProxy({
    username: 'gg',
    password: 'tls-Secret',
    tls: { key: readFileSync(join(dir, 'p.key'), 'utf8'), cert: readFileSync(join(dir, 'p.crt'), 'utf8') },
  });
  t.teardown(() => proxy.close());
  const root = createDeviceRoot({
    endpoint: { host: '127.0.0.1', port: endpoint.port },
    settings: { proxyUrl: `https://127.0.0.1:${proxy.port}`, proxyUsername: 'gg', proxyPassword: 'tls-Secret' },
  });
  t.teardown(() => root.cleanup());
  const r = await runAgent(root, ['check']);
  t.equal(r.code, 75, r.stdout + r.stderr);
  t.match(
    r.stdout,
    new RegExp(
      `^FAIL\\s+endpoint\\s+the IoT data endpoint 127\\.0\\.0\\.1:${endpoint.port} \\(through proxy 127\\.0\\.0\\.1:${proxy.port}\\) is unreachable \\(self[- ]signed certificate`,
      'm',
    ),
  );
  t.same(proxy.requests, [], 'no CONNECT (and so no credentials) reached an untrusted proxy');
});

t.test(
  "https proxy whose CA is appended to the root CA file (AWS's guidance): tunnel with credentials, check passes",
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-proxy-tls-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'p.key'),
        '-out',
        join(dir, 'p.crt'),
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const proxyCert = readFileSync(join(dir, 'p.crt'), 'utf8');
    const proxy = await startConnectProxy({
      username: 'gg',
      password: 'tls-Secret',
      tls: { key: readFileSync(join(dir, 'p.key'), 'utf8'), cert: proxyCert },
    });
    t.teardown(() => proxy.close());
    const root = createDeviceRoot({
      endpoint: { host: '127.0.0.1', port: endpoint.port },
      settings: { proxyUrl: `https://127.0.0.1:${proxy.port}`, proxyUsername: 'gg', proxyPassword: 'tls-Secret' },
    });
    t.teardown(() => root.cleanup());
    writeFileSync(root.rootCaPath, `${readFileSync(root.rootCaPath, 'utf8')}${proxyCert}`);
    const r = await runAgent(root, ['check']);
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.match(
      r.stdout,
      new RegExp(
        `^ok\\s+endpoint\\s+127\\.0\\.0\\.1:${endpoint.port} \\(through proxy 127\\.0\\.0\\.1:${proxy.port}\\) reachable`,
        'mi',
      ),
    );
    t.same(
      proxy.requests,
      [
        {
          target: `127.0.0.1:${endpoint.port}`,
          authorization: `Basic ${Buffer.from('gg:tls-Secret').toString('base64')}`,
        },
      ],
      'one CONNECT to the endpoint, with the credentials, over TLS',
    );
    t.notOk((r.stdout + r.stderr).includes('tls-Secret'), 'the proxy password is not printed');
  },
);
