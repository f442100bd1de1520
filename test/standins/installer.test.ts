// The Greengrass installer STAND-IN (Java) against the provisioning STAND-IN: argument handling,
// what it writes, the detached nucleus part that provisions, and the failure-injection modes.
import t from 'tap';
import { execFile, execFileSync, spawn } from 'node:child_process';
import tls from 'node:tls';
import mqttPacket from 'mqtt-packet';
import {
  rmSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  statSync,
  utimesSync,
  writeFileSync,
  readdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import {
  buildInstallerStandin,
  nucleusPid,
  stopStandinNucleus,
  type InstallerStandinJars,
} from '../../harness/standin-installer.ts';
import { createCa, issueCertificate, type KeyPair } from '../../standins/pki.ts';
import { startProvisioningStandin, type ProvisioningStandin } from '../../standins/provisioning/server.ts';
import {
  installerArgs as sharedInstallerArgs,
  makeInstallerDevice,
  type InstallerDevice,
} from '../../harness/installer-device.ts';
import { waitFor } from '../helpers/wait.ts';

const TEMPLATE = 'GoldenFleetTemplate';
const ca = createCa();
const claim = issueCertificate(ca, { commonName: 'fleet claim' });
let jars: InstallerStandinJars;

t.before(async () => {
  jars = await buildInstallerStandin();
});

type Device = InstallerDevice;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function makeDevice(
  t: { teardown(fn: () => unknown): void },
  port: number,
  thingName: string,
  opts: { claim?: KeyPair; extraParams?: Record<string, string>; endpoint?: string } = {},
): Device {
  return makeInstallerDevice(t, {
    ca,
    claim: opts.claim ?? claim,
    port,
    thingName,
    template: TEMPLATE,
    endpoint: opts.endpoint,
    extraParams: opts.extraParams,
  });
}

function installerArgs(d: Device, extra: string[] = []): string[] {
  return sharedInstallerArgs(jars, d, extra);
}

function java(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      'java',
      args,
      { env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (err as unknown as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

function install(d: Device, env: Record<string, string> = {}, extra: string[] = []): Promise<RunResult> {
  return java(installerArgs(d, extra), { GG_STANDIN_SYSTEMD_DIR: d.systemd, ...env });
}

function log(d: Device): string {
  const f = join(d.root, 'logs', 'greengrass.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

interface TlogEntry {
  TS: number;
  TP: string[];
  W: string;
  V: unknown;
}
function tlog(d: Device): TlogEntry[] {
  const f = join(d.root, 'config', 'config.tlog');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TlogEntry);
}
/** Last value written for a path (what the nucleus would read back). */
function tlogValue(d: Device, ...path: string[]): unknown {
  const key = path.join('\0').toLowerCase();
  let v: unknown;
  for (const e of tlog(d)) if (e.TP.join('\0').toLowerCase() === key) v = e.V;
  return v;
}

async function standin(
  t: { teardown(fn: () => unknown): void },
  opts: Partial<Parameters<typeof startProvisioningStandin>[0]> = {},
): Promise<ProvisioningStandin> {
  const s = await startProvisioningStandin({ ca, templateName: TEMPLATE, ...opts });
  t.teardown(() => s.stop());
  return s;
}

const SETUP_ERROR = 'Error while trying to setup Greengrass Nucleus';

t.test('builds Greengrass.jar and the plugin jar with javac, cached by source hash', async (t) => {
  t.ok(statSync(jars.installerJar).size > 0);
  t.match(jars.installerJar, /\.cache\/standin-installer\/[0-9a-f]{64}\/Greengrass\.jar$/);
  t.match(jars.pluginJar, /\.jar$/);
  const again = await buildInstallerStandin();
  t.same(again, jars, 'second call returns the cached build');
  const vRoot = mkdtempSync(join(tmpdir(), 'gg-jar-'));
  t.teardown(() => rmSync(vRoot, { recursive: true, force: true }));
  const v = await java([`-Droot=${join(vRoot, 'root')}`, '-jar', jars.installerJar, '--version']);
  t.equal(v.code, 0);
  t.match(v.stdout, /AWS Greengrass v\d+\.\d+\.\d+/);
  t.notOk(existsSync(join(vRoot, 'root')), '--version creates no files');
  const listing = await new Promise<string>((res, rej) =>
    execFile('jar', ['tf', jars.installerJar], (e, out) => (e ? rej(e) : res(out))),
  );
  t.match(listing, /standin\/Installer\.class/);
  t.match(listing, /standin\/Nucleus\.class/);
  // bytecode for Java 11 (class file major version 55): runs on the JRE 11 the Greengrass docs recommend
  const x = mkdtempSync(join(tmpdir(), 'gg-jar-'));
  t.teardown(() => rmSync(x, { recursive: true, force: true }));
  await new Promise<void>((res, rej) =>
    execFile('jar', ['xf', jars.installerJar, 'standin/Installer.class'], { cwd: x }, (e) => (e ? rej(e) : res())),
  );
  t.equal(readFileSync(join(x, 'standin', 'Installer.class')).readUInt16BE(6), 55);
});

t.test('rejected arguments: exit 1, the real error line, a specific message, nothing written', async (t) => {
  const d = makeDevice(t, 1, 'edge-args');
  const cases: [string, string[], RegExp][] = [
    ['unknown argument', ['--frobnicate', 'yes'], /Undefined command line argument: --frobnicate/],
    ['plugin not a .jar', ['--trusted-plugin', join(d.dir, 'plugin.zip')], /must end with \.jar/],
    ['plugin missing', ['--trusted-plugin', join(d.dir, 'missing.jar')], /does not exist/],
    ['unknown region', ['--aws-region', 'mars-north-1'], /mars-north-1 is not a valid AWS region/],
    ['value missing', ['--root'], /No value given for command line argument: --root/],
    ['--provision true', ['--provision', 'true'], /--provision true/],
  ];
  for (const [name, extra, msg] of cases) {
    const args = [
      `-Droot=${join(d.dir, 'fresh-root')}`,
      '-jar',
      jars.installerJar,
      '--init-config',
      d.configPath,
      ...extra,
    ];
    const r = await java(args, { GG_STANDIN_SYSTEMD_DIR: d.systemd });
    t.equal(r.code, 1, `${name}: exit 1`);
    t.match(r.stderr, SETUP_ERROR, `${name}: setup error line`);
    t.match(r.stderr, msg, `${name}: specific message`);
    t.notOk(existsSync(join(d.dir, 'fresh-root')), `${name}: no root written`);
    t.notOk(existsSync(d.systemd), `${name}: no unit written`);
  }
});

t.test('arguments are matched case-insensitively; a bare boolean flag counts as true', async (t) => {
  const d = makeDevice(t, 1, 'edge-case');
  const r = await java(
    [
      `-Droot=${d.root}`,
      '-jar',
      jars.installerJar,
      '--TRUSTED-PLUGIN',
      jars.pluginJar,
      '-INIT',
      d.configPath,
      '--Setup-System-Service',
      '--start',
      'false',
    ],
    { GG_STANDIN_SYSTEMD_DIR: d.systemd },
  );
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Successfully set up Nucleus as a system service/);
  t.ok(existsSync(join(d.systemd, 'greengrass.service')));
  t.equal(nucleusPid(d.root), undefined, '--start false: no nucleus started');
});

t.test('a valid run writes the layout, unit and link, and its nucleus provisions the device', async (t) => {
  const s = await standin(t, { defaultThingGroup: 'golden-fleet' });
  const d = makeDevice(t, s.port, 'edge-0042');
  const r = await install(d);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Successfully set up Nucleus as a system service/);
  // layout
  for (const sub of [
    'config',
    'work',
    'packages/artifacts',
    'packages/recipes',
    'alts',
    'deployments',
    'logs',
    'plugins/trusted',
    'plugins/untrusted',
    'telemetry',
  ]) {
    t.ok(statSync(join(d.root, sub)).isDirectory(), `${sub}/ exists`);
  }
  t.ok(existsSync(join(d.root, 'plugins', 'trusted', 'fleetprovisioningbyclaim-standin.jar')), 'plugin jar copied');
  t.equal(readlinkSync(join(d.root, 'alts', 'current')), 'init', 'alts/current -> init');
  t.ok(lstatSync(join(d.root, 'alts', 'init', 'distro')).isSymbolicLink());
  t.ok(existsSync(join(d.root, 'alts', 'current', 'distro', 'bin', 'loader')));
  t.equal(
    readFileSync(join(d.root, 'alts', 'current', 'launch.params'), 'utf8'),
    '-Dlog.store=FILE',
    'launch.params: JVM options minus -Droot',
  );
  // unit + link
  const unit = readFileSync(join(d.systemd, 'greengrass.service'), 'utf8');
  // nucleus 2.16.0's scripts/greengrass.service.template, paths filled in (After=time-sync.target came in 2.18.0)
  t.equal(
    unit,
    [
      '[Unit]',
      'Description=Greengrass Core',
      'After=network.target',
      '',
      '[Service]',
      'Type=simple',
      `PIDFile=${d.root}/alts/loader.pid`,
      'RemainAfterExit=no',
      'Restart=on-failure',
      'RestartSec=10',
      `ExecStart=/bin/sh -c "exec ${d.root}/alts/current/distro/bin/loader >> ${d.root}/logs/loader.log 2>&1"`,
      'KillMode=mixed',
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n'),
    'the unit of the nucleus version baked (2.16.0)',
  );
  t.notMatch(unit, /time-sync/, '2.16.0 has no After=time-sync.target');
  t.equal(
    readlinkSync(join(d.systemd, 'multi-user.target.wants', 'greengrass.service')),
    join(d.systemd, 'greengrass.service'),
  );
  // init config merged, stamped with the file's mtime
  const mtime = Math.floor(statSync(d.configPath).mtimeMs);
  const tp = tlog(d).find(
    (e) =>
      e.TP.join('/') === 'services/aws.greengrass.FleetProvisioningByClaim/configuration/templateParameters/ThingName',
  );
  t.equal(tp?.V, 'edge-0042');
  t.equal(tp?.TS, mtime, 'init-config values carry the file mtime');
  // the nucleus part provisions in the background
  await waitFor('system.thingName in config.tlog', () => tlogValue(d, 'system', 'thingName'));
  t.equal(tlogValue(d, 'system', 'thingName'), 'edge-0042');
  t.equal(tlogValue(d, 'system', 'certificateFilePath'), join(d.root, 'thingCert.crt'));
  t.equal(tlogValue(d, 'system', 'privateKeyPath'), join(d.root, 'privKey.key'));
  t.equal(tlogValue(d, 'system', 'rootCaPath'), join(d.root, 'AmazonRootCA1.pem'));
  t.equal(
    tlogValue(d, 'services', 'aws.greengrass.Nucleus', 'configuration', 'iotCredEndpoint'),
    'credentials.standin.local',
  );
  for (const f of ['thingCert.crt', 'privKey.key'])
    t.equal(statSync(join(d.root, f)).mode & 0o777, 0o600, `${f} is 0600`);
  const cert = new X509Certificate(readFileSync(join(d.root, 'thingCert.crt')));
  t.ok(
    cert.checkPrivateKey(createPrivateKey(readFileSync(join(d.root, 'privKey.key')))),
    'device key matches device cert',
  );
  t.equal(s.registrations.length, 1);
  t.equal(s.registrations[0]?.thingName, 'edge-0042');
  t.equal(
    s.registrations[0]?.certificateId,
    cert.fingerprint256.replace(/:/g, '').toLowerCase(),
    'the registered cert is the one on disk',
  );
  t.same(s.takeovers, []);
  const text = log(d);
  t.match(text, /Running provisioning plugin/);
  t.match(text, /Received register thing response for thing name edge-0042/);
  t.notMatch(text, /PRIVATE KEY/, 'no key material in the log');
  t.ok(existsSync(join(d.root, 'config', 'effectiveConfig.yaml')), 'effectiveConfig.yaml written at launch');
  // the nucleus keeps running, in its own process group, pid in alts/loader.pid
  const pid = nucleusPid(d.root);
  t.ok(pid, 'nucleus alive');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  t.equal(Number(stat[2]), pid, 'nucleus leads its own process group');
  t.match(readFileSync(join(d.root, 'logs', 'loader.log'), 'utf8'), /Launched Nucleus successfully/);
});

t.test(
  're-run on a provisioned device: service restarted, no second registration; init-config merge honours mtime',
  async (t) => {
    const s = await standin(t);
    const d = makeDevice(t, s.port, 'edge-rerun');
    t.equal((await install(d)).code, 0);
    await waitFor('provisioned', () => tlogValue(d, 'system', 'thingName'));
    const firstPid = nucleusPid(d.root);
    // an edited config file whose mtime is older than the tlog entries loses (like the real merge)
    const old = readFileSync(d.configPath, 'utf8');
    writeFileSync(d.configPath, old.replace(/ThingName: "?edge-rerun"?/, 'ThingName: "edge-renamed"'));
    utimesSync(d.configPath, new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
    const r = await install(d);
    t.equal(r.code, 0, r.stderr);
    const secondPid = await waitFor('restarted nucleus', () => {
      const p = nucleusPid(d.root);
      return p !== undefined && p !== firstPid ? p : undefined;
    });
    t.not(secondPid, firstPid, 'the service was stopped and started again');
    await waitFor('skip line', () => /not running the provisioning plugin/.test(log(d)));
    t.equal(
      tlogValue(
        d,
        'services',
        'aws.greengrass.FleetProvisioningByClaim',
        'configuration',
        'templateParameters',
        'ThingName',
      ),
      'edge-rerun',
      'older file value did not win',
    );
    t.equal(s.registrations.length, 1, 'no second registration');
    t.equal(s.certificatesIssued, 1);
    // a newer file value wins
    utimesSync(d.configPath, new Date(), new Date(Date.now() + 60_000));
    t.equal((await install(d, {}, ['--start', 'false'])).code, 0);
    t.equal(
      tlogValue(
        d,
        'services',
        'aws.greengrass.FleetProvisioningByClaim',
        'configuration',
        'templateParameters',
        'ThingName',
      ),
      'edge-renamed',
    );
    t.equal(tlogValue(d, 'system', 'thingName'), 'edge-rerun', 'identity kept');
  },
);

t.test(
  '-i/--config replaces the config: the identity is dropped and the next start provisions again (a takeover)',
  async (t) => {
    const s = await standin(t);
    const d = makeDevice(t, s.port, 'edge-replaced');
    t.equal((await install(d)).code, 0);
    await waitFor('provisioned', () => tlogValue(d, 'system', 'thingName'));
    const r = await java(
      [`-Droot=${d.root}`, '-jar', jars.installerJar, '-i', d.configPath, '--setup-system-service', 'true'],
      { GG_STANDIN_SYSTEMD_DIR: d.systemd },
    );
    t.equal(r.code, 0, r.stderr);
    t.equal(tlogValue(d, 'system', 'thingName'), undefined, 'config.tlog rewritten from the file alone');
    // With the stack's template (OverrideSettings REPLACE) AWS accepts the second RegisterThing for the same name and
    // attaches the new certificate beside the first.
    await waitFor('provisioned again', () => tlogValue(d, 'system', 'thingName'));
    t.equal(s.takeovers.length, 1, 'the same device registering its name again attaches a second certificate');
    t.equal(s.principalsOf('edge-replaced').length, 2);
  },
);

t.test('a missing --init-config file is silently ignored; the plugin then fails for lack of config', async (t) => {
  const d = makeDevice(t, 1, 'edge-noconfig');
  const r = await java(
    [
      `-Droot=${d.root}`,
      '-jar',
      jars.installerJar,
      '--trusted-plugin',
      jars.pluginJar,
      '--init-config',
      join(d.dir, 'nope.yaml'),
      '--setup-system-service',
      'true',
    ],
    { GG_STANDIN_SYSTEMD_DIR: d.systemd },
  );
  t.equal(r.code, 0, r.stderr);
  await waitFor('failure line', () => /Caught exception while running provisioning plugin/.test(log(d)));
  t.match(
    log(d),
    /Caught exception while running provisioning plugin\. Moving on to run Greengrass without provisioning\. \{\}\njava\.lang\.IllegalArgumentException: \[Required parameter provisioningTemplate missing for aws\.greengrass\.FleetProvisioningByClaim, .*Required parameter rootPath missing/,
  );
  t.ok(nucleusPid(d.root), 'nucleus keeps running unprovisioned');
  t.equal(tlogValue(d, 'system', 'thingName'), undefined);
});

t.test('GG_STANDIN_FAIL=install: exit 1 with the real error text, nothing installed', async (t) => {
  const d = makeDevice(t, 1, 'edge-failinstall');
  const r = await install(d, { GG_STANDIN_FAIL: 'install' });
  t.equal(r.code, 1);
  t.match(r.stderr, SETUP_ERROR);
  t.notOk(existsSync(join(d.systemd, 'greengrass.service')));
  t.notOk(existsSync(join(d.root, 'config', 'config.tlog')));
});

t.test('GG_STANDIN_FAIL=install-until:3: attempts 1 and 2 fail, 3 succeeds', async (t) => {
  const s = await standin(t);
  const d = makeDevice(t, s.port, 'edge-until');
  const env = { GG_STANDIN_FAIL: 'install-until:3' };
  t.equal((await install(d, env)).code, 1);
  t.equal((await install(d, env)).code, 1);
  const third = await install(d, env);
  t.equal(third.code, 0, third.stderr);
  t.equal(readFileSync(join(d.root, '.standin-attempts'), 'utf8').trim(), '3');
  await waitFor('provisioned', () => tlogValue(d, 'system', 'thingName'));
  t.equal(s.registrations.length, 1);
});

t.test('GG_STANDIN_FAIL=hang: the installer never exits', async (t) => {
  const d = makeDevice(t, 1, 'edge-hang');
  const child = spawn('java', installerArgs(d), {
    env: { ...process.env, GG_STANDIN_SYSTEMD_DIR: d.systemd, GG_STANDIN_FAIL: 'hang' },
    stdio: 'ignore',
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const exited = await Promise.race([
    new Promise((r) => child.once('exit', () => r(true))),
    new Promise((r) => setTimeout(() => r(false), 4000)),
  ]);
  t.equal(exited, false, 'still running after 4 s');
  child.kill('SIGKILL');
});

t.test('GG_STANDIN_FAIL=provision: the silent case, installer exits 0, nucleus stays up unprovisioned', async (t) => {
  const s = await standin(t);
  const d = makeDevice(t, s.port, 'edge-silent');
  const r = await install(d, { GG_STANDIN_FAIL: 'provision' });
  t.equal(r.code, 0);
  await waitFor('failure line', () => /Caught exception while running provisioning plugin/.test(log(d)));
  t.match(log(d), /Moving on to run Greengrass without provisioning/);
  t.ok(nucleusPid(d.root));
  t.equal(tlogValue(d, 'system', 'thingName'), undefined);
  t.equal(s.registrations.length, 0);
});

t.test('GG_STANDIN_FAIL_UNTIL_PROVISION=2: first service start fails to provision, a restart provisions', async (t) => {
  const s = await standin(t);
  const d = makeDevice(t, s.port, 'edge-retry');
  const env = { GG_STANDIN_FAIL_UNTIL_PROVISION: '2' };
  t.equal((await install(d, env)).code, 0);
  await waitFor('failure line', () => /Caught exception while running provisioning plugin/.test(log(d)));
  t.equal(tlogValue(d, 'system', 'thingName'), undefined);
  t.equal((await install(d, env)).code, 0, 're-run restarts the service');
  await waitFor('provisioned', () => tlogValue(d, 'system', 'thingName'));
  t.equal(s.registrations.length, 1);
});

t.test(
  'a RegisterThing rejection (FAIL template, name taken) is logged, not retried; cert files exist without a thing name',
  async (t) => {
    const s = await standin(t, { thingOverride: 'FAIL' });
    const a = makeDevice(t, s.port, 'same-name');
    const b = makeDevice(t, s.port, 'same-name');
    t.equal((await install(a)).code, 0);
    await waitFor('first provisioned', () => tlogValue(a, 'system', 'thingName'));
    t.equal((await install(b)).code, 0);
    await waitFor('failure line', () => /Caught exception while running provisioning plugin/.test(log(b)));
    t.match(
      log(b),
      /Moving on to run Greengrass without provisioning\. \{\}\ncom\.aws\.greengrass\.DeviceProvisioningRuntimeException: java\.lang\.RuntimeException: .*Thing same-name already exists/,
      'the rejection as the plugin reports it (its errorMessage only)',
    );
    t.equal(tlogValue(b, 'system', 'thingName'), undefined);
    t.ok(existsSync(join(b.root, 'thingCert.crt')), 'device cert written before RegisterThing, like the plugin');
    t.equal(s.rejections.filter((r) => r.errorCode === 'ResourceConflictsException').length, 1);
    t.equal(s.certificatesIssued, 2, 'a rejection is not retried');
    t.notMatch(log(b), /task failed and will be retried/);
  },
);

t.test('stand-in started late: connect failures are retried until it listens', async (t) => {
  const first = await startProvisioningStandin({ ca, templateName: TEMPLATE });
  const port = first.port;
  await first.stop();
  const d = makeDevice(t, port, 'edge-late');
  t.equal((await install(d, { GG_STANDIN_CONNECT_RETRY_SECONDS: '0.3' })).code, 0);
  await waitFor(
    'connect retries',
    () => (log(d).match(/Retrying MQTT connect which failed in provisioning plugin/g) ?? []).length >= 2,
  );
  const s = await standin(t, { port });
  await waitFor('provisioned', () => tlogValue(d, 'system', 'thingName'));
  t.equal(s.registrations[0]?.thingName, 'edge-late');
});

t.test('a client certificate from another CA is refused at TLS and retried, never provisioned', async (t) => {
  const s = await standin(t);
  const foreign = issueCertificate(createCa('foreign'), { commonName: 'foreign claim' });
  const d = makeDevice(t, s.port, 'edge-foreign', { claim: foreign });
  t.equal((await install(d, { GG_STANDIN_CONNECT_RETRY_SECONDS: '0.3' })).code, 0);
  await waitFor(
    'connect retries',
    () => (log(d).match(/Retrying MQTT connect which failed in provisioning plugin/g) ?? []).length >= 2,
  );
  t.equal(s.certificatesIssued, 0);
});

/**
 * A claim certificate over an RSA key in the given PEM form: 'pkcs1' is what AWS IoT's CreateKeysAndCertificate
 * returns ("BEGIN RSA PRIVATE KEY"), 'pkcs8' the generic form. The key passes through a 0700 temp dir only.
 */
function rsaClaim(form: 'pkcs1' | 'pkcs8'): KeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'gg-rsa-claim-'));
  try {
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    writeFileSync(join(dir, 'ca.crt'), ca.certificatePem);
    writeFileSync(join(dir, 'ca.key'), ca.privateKeyPem, { mode: 0o600 });
    if (form === 'pkcs1') run(['genrsa', '-traditional', '-out', 'claim.key', '2048']);
    else run(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'claim.key']);
    run(['req', '-new', '-key', 'claim.key', '-subj', `/CN=rsa ${form} claim`, '-out', 'claim.csr']);
    writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
    run([
      'x509',
      '-req',
      '-in',
      'claim.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '30',
      '-sha256',
      '-extfile',
      'ext.cnf',
      '-out',
      'claim.crt',
    ]);
    return {
      certificatePem: readFileSync(join(dir, 'claim.crt'), 'utf8'),
      privateKeyPem: readFileSync(join(dir, 'claim.key'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('RSA claim keys as AWS issues them (PKCS#1) and as PKCS#8 connect and provision', async (t) => {
  const s = await standin(t);
  for (const form of ['pkcs1', 'pkcs8'] as const) {
    const key = rsaClaim(form);
    t.match(
      key.privateKeyPem,
      form === 'pkcs1' ? /^-----BEGIN RSA PRIVATE KEY-----/ : /^-----BEGIN PRIVATE KEY-----/,
      `${form} PEM`,
    );
    const d = makeDevice(t, s.port, `edge-rsa-${form}`, { claim: key });
    t.equal((await install(d)).code, 0);
    await waitFor(
      `${form}: provisioned or failed`,
      () => tlogValue(d, 'system', 'thingName') || /Caught exception/.test(log(d)),
    );
    t.notMatch(log(d), /Caught exception/, `${form}: no failure line`);
    t.equal(tlogValue(d, 'system', 'thingName'), `edge-rsa-${form}`);
  }
});

t.test('the nucleus verifies the server certificate names its endpoint (extra SANs via serverAltNames)', async (t) => {
  const unnamed = await standin(t, { host: '127.0.0.2' });
  const d = makeDevice(t, unnamed.port, 'edge-san', { endpoint: '127.0.0.2' });
  t.equal((await install(d, { GG_STANDIN_CONNECT_RETRY_SECONDS: '0.3' })).code, 0);
  await waitFor(
    'connect retries',
    () => (log(d).match(/Retrying MQTT connect which failed in provisioning plugin/g) ?? []).length >= 2,
  );
  t.match(log(d), /127\.0\.0\.2/);
  t.equal(unnamed.certificatesIssued, 0, 'a server certificate without the endpoint name is refused');
  await stopStandinNucleus(d.root);

  const named = await standin(t, { host: '127.0.0.2', serverAltNames: { ip: ['127.0.0.2'] } });
  const e = makeDevice(t, named.port, 'edge-san', { endpoint: '127.0.0.2' });
  t.equal((await install(e)).code, 0);
  await waitFor('provisioned', () => tlogValue(e, 'system', 'thingName'));
  t.equal(named.registrations[0]?.thingName, 'edge-san');
});

t.test('extra template parameters are sent with RegisterThing', async (t) => {
  const s = await standin(t, { requiredParameters: ['ThingName', 'SerialNumber'] });
  const d = makeDevice(t, s.port, 'edge-serial', { extraParams: { SerialNumber: 'SN-123', ThingGroupName: 'site-7' } });
  t.equal((await install(d)).code, 0);
  await waitFor('provisioned', () => tlogValue(d, 'system', 'thingName'));
  t.same(s.registrations[0]?.parameters, {
    ThingName: 'edge-serial',
    SerialNumber: 'SN-123',
    ThingGroupName: 'site-7',
  });
  t.equal(s.registrations[0]?.thingGroupName, 'site-7');
});

t.test('timeouts are retried: 3 attempts in all, then the failure line', async (t) => {
  // A TLS MQTT endpoint that accepts CONNECT but never answers SUBSCRIBE (a black-holed broker).
  const serverCert = issueCertificate(ca, {
    commonName: 'black hole',
    serverAuth: true,
    altNames: { dns: ['localhost'], ip: ['127.0.0.1'] },
  });
  let connects = 0;
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer(
    {
      key: serverCert.privateKeyPem,
      cert: serverCert.certificatePem,
      ca: [ca.certificatePem],
      requestCert: true,
      rejectUnauthorized: true,
    },
    (sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => undefined);
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p) => {
        if (p.cmd === 'connect') {
          connects++;
          sock.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
        }
      });
      sock.on('data', (d: Buffer) => parser.parse(d));
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const port = (server.address() as { port: number }).port;
  const d = makeDevice(t, port, 'edge-timeout');
  t.equal((await install(d, { GG_STANDIN_MQTT_TIMEOUT_SECONDS: '0.5' })).code, 0);
  await waitFor('failure line', () => /Caught exception while running provisioning plugin/.test(log(d)), 60_000);
  t.equal(
    (log(d).match(/Failed to subscribe to create keys and certificate accepted topic\. \{retryable=true\}/g) ?? [])
      .length,
    3,
    '3 attempts',
  );
  t.equal(
    (log(d).match(/task failed and will be retried\. \{task-attempt=1\}/g) ?? []).length,
    1,
    'the first retry logged at INFO',
  );
  t.match(
    log(d),
    /without provisioning\. \{\}\ncom\.aws\.greengrass\.provisioning\.exceptions\.RetryableProvisioningException: java\.util\.concurrent\.TimeoutException\n/,
  );
  t.equal(connects, 3, 'each attempt connects again');
  t.ok(nucleusPid(d.root), 'still running, unprovisioned');
});

t.test('init-config YAML forms a hand-written file may use; a malformed file fails the install', async (t) => {
  const s = await standin(t);
  const d = makeDevice(t, s.port, 'unused');
  const c = (p: string) => JSON.stringify(p);
  writeFileSync(
    d.configPath,
    [
      '# hand-written init config',
      '---',
      'system:',
      `  rootpath: ${c(d.root)}`,
      'services:',
      '  "aws.greengrass.Nucleus":',
      "    version: '2.16.0'",
      '    configuration: { awsRegion: eu-west-1, iotCredEndpoint: creds.local }',
      '  aws.greengrass.FleetProvisioningByClaim:',
      '    configuration:',
      `      rootPath: ${d.root}   # plain scalar with a comment`,
      '      awsRegion: eu-west-1',
      '      iotDataEndpoint: localhost',
      '      iotCredentialEndpoint: creds.local',
      "      iotRoleAlias: 'Role''s alias'",
      `      provisioningTemplate: ${TEMPLATE}`,
      `      claimCertificatePath: ${c(join(d.root, 'claim-certs', 'claim.pem.crt'))}`,
      `      claimCertificatePrivateKeyPath: '${join(d.root, 'claim-certs', 'claim.private.pem.key')}'`,
      `      rootCaPath: ${join(d.root, 'AmazonRootCA1.pem')}`,
      `      mqttPort: ${s.port}`,
      '      templateParameters:',
      '        ThingName: "hand-written-1"',
      '        Notes: |',
      '          line one # not a comment',
      '          line two',
      '',
    ].join('\n'),
  );
  const r = await install(d);
  t.equal(r.code, 0, r.stderr);
  await waitFor('provisioned', () => tlogValue(d, 'system', 'thingName'));
  t.equal(tlogValue(d, 'system', 'thingName'), 'hand-written-1');
  t.equal(tlogValue(d, 'services', 'aws.greengrass.Nucleus', 'configuration', 'iotRoleAlias'), "Role's alias");
  t.equal(
    tlogValue(d, 'services', 'aws.greengrass.FleetProvisioningByClaim', 'configuration', 'mqttPort'),
    s.port,
    'numbers stay numbers',
  );
  t.same(s.registrations[0]?.parameters, {
    ThingName: 'hand-written-1',
    Notes: 'line one # not a comment\nline two\n',
  });

  const bad = makeDevice(t, s.port, 'unused2');
  writeFileSync(bad.configPath, 'services:\n  x: "unterminated\n');
  const rb = await install(bad);
  t.equal(rb.code, 1);
  t.match(rb.stderr, SETUP_ERROR);
  t.match(rb.stderr, /Unable to parse config file .*unterminated quoted string/);
  t.notOk(existsSync(join(bad.root, 'config', 'config.tlog')), 'nothing half-done');
});

t.test(
  'real systemd mode: unit in /etc/systemd/system and the systemctl sequence (private mount namespace, systemctl stand-in)',
  async (t) => {
    // /etc/systemd/system is a tmpfs inside a private mount namespace, so the host is untouched; `systemctl`
    // is a STAND-IN script on PATH that records its arguments and fails the verb named in FAIL_VERB.
    const d = makeDevice(t, 1, 'edge-real');
    const bin = join(d.dir, 'bin');
    mkdirSync(bin);
    const calls = join(d.dir, 'systemctl-calls.log');
    writeFileSync(
      join(bin, 'systemctl'),
      `#!/bin/sh\n# STAND-IN for systemctl\necho "$*" >> ${JSON.stringify(calls)}\n[ "$1" = "$FAIL_VERB" ] && exit 1\nexit 0\n`,
      { mode: 0o755 },
    );
    const runReal = (extra: string[], env: Record<string, string> = {}) =>
      new Promise<RunResult & { unit: string }>((resolve) => {
        const unitCopy = join(d.dir, `unit-${Date.now()}`);
        const script =
          'mount -t tmpfs tmpfs /etc/systemd/system || exit 99; java "$@"; rc=$?; cp /etc/systemd/system/greengrass.service "$UNIT_COPY" 2>/dev/null; exit $rc';
        const args = [
          `-Droot=${d.root}`,
          '-jar',
          jars.installerJar,
          '--trusted-plugin',
          jars.pluginJar,
          '--init-config',
          d.configPath,
          '--setup-system-service',
          'true',
          ...extra,
        ];
        const env2 = {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          UNIT_COPY: unitCopy,
          ...env,
        } as NodeJS.ProcessEnv;
        delete env2.GG_STANDIN_SYSTEMD_DIR;
        execFile(
          'unshare',
          ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...args],
          { env: env2, timeout: 60_000 },
          (err, stdout, stderr) => {
            const code = err ? (err as unknown as { code?: unknown }).code : 0;
            resolve({
              code: typeof code === 'number' ? code : null,
              stdout: String(stdout),
              stderr: String(stderr),
              unit: existsSync(unitCopy) ? readFileSync(unitCopy, 'utf8') : '',
            });
          },
        );
      });
    const ok = await runReal([]);
    t.equal(ok.code, 0, ok.stderr);
    t.match(ok.stdout, /Successfully set up Nucleus as a system service/);
    t.match(
      ok.unit,
      `ExecStart=/bin/sh -c "exec ${d.root}/alts/current/distro/bin/loader >> ${d.root}/logs/loader.log 2>&1"`,
    );
    t.same(readFileSync(calls, 'utf8').trim().split('\n'), [
      'daemon-reload',
      'unmask greengrass.service',
      'stop greengrass.service',
      'start greengrass.service',
      'enable greengrass.service',
    ]);
    t.notOk(
      existsSync('/etc/systemd/system/greengrass.service') &&
        readFileSync('/etc/systemd/system/greengrass.service', 'utf8').includes(d.root),
      'host /etc/systemd/system untouched',
    );
    t.equal(nucleusPid(d.root), undefined, 'the installer itself starts nothing in real mode');

    rmSync(calls);
    const noStart = await runReal(['--start', 'false']);
    t.equal(noStart.code, 0);
    t.same(
      readFileSync(calls, 'utf8').trim().split('\n'),
      ['daemon-reload', 'unmask greengrass.service', 'stop greengrass.service', 'enable greengrass.service'],
      '--start false: no start',
    );

    const failed = await runReal([], { FAIL_VERB: 'start' });
    t.equal(failed.code, 0, 'a systemd failure still exits 0, like the real installer');
    t.match(failed.stdout, /Unable to set up Nucleus as a system service/);
    t.notMatch(failed.stdout, /Successfully set up/);
  },
);

t.test('no stray nucleus processes are left by these tests', async (t) => {
  // runs last: every earlier subtest's teardown has stopped its nucleus by now
  const stray = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.includes('gg-installer-standin-') && cmd.includes('standin.Nucleus');
      } catch {
        return false;
      }
    });
  t.same(stray, [], 'no standin.Nucleus process from this file is still running');
});

t.test(
  'once provisioned, the nucleus connects as its thing name and publishes its fleet status, as Greengrass needs',
  async (t) => {
    const reports: { thingName: string; status: Record<string, unknown> }[] = [];
    const s = await standin(t, {
      defaultThingGroup: 'golden-fleet',
      account: { registered: () => {}, coreStatus: (thingName, status) => reports.push({ thingName, status }) },
    });
    const d = makeDevice(t, s.port, 'edge-status-1');
    t.equal((await install(d)).code, 0);
    await waitFor('the fleet status report', () => reports.length > 0);
    t.match(reports[0], {
      thingName: 'edge-status-1',
      status: { thing: 'edge-status-1', overallDeviceStatus: 'HEALTHY', trigger: 'NUCLEUS_LAUNCH' },
    });
    // The stand-in service records the report when the PUBLISH arrives; the nucleus logs after its PUBACK.
    await waitFor('the nucleus log line for the report', () => /Published the fleet status/.test(log(d)));
    t.equal(s.registrations.length, 1, 'the status connection registers nothing');
  },
);

t.test(
  'the init config is read with YAML 1.1 rules, as the nucleus reads it: an unquoted 123_456 is a number',
  async (t) => {
    const s = await standin(t);
    const quoted = makeDevice(t, s.port, '123_456');
    const text = readFileSync(quoted.configPath, 'utf8');
    t.match(text, /ThingName: "123_456"/, 'the product writes it quoted');
    const bare = makeDevice(t, s.port, '123_456');
    writeFileSync(bare.configPath, text.replace(/ThingName: "123_456"/, 'ThingName: 123_456'));
    t.equal((await install(bare)).code, 0);
    await waitFor('the unquoted device registered', () => s.registrations.length === 1);
    t.equal(
      s.registrations[0]?.thingName,
      '123456',
      'YAML 1.1 reads 123_456 as the integer 123456 (the name a real nucleus would send)',
    );
    t.equal((await install(quoted)).code, 0);
    await waitFor('the quoted device registered', () => s.registrations.length === 2);
    t.equal(s.registrations[1]?.thingName, '123_456', 'quoted, it stays the string');
  },
);
