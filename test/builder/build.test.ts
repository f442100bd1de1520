// greengrass-image build: bad inputs each end with their own exit code and no staged file left;
// a failing real `packer build` (Packer 1.6.6) cleans up too; SIGINT mid-build removes the staging
// dir. The interruption test is the only place a stand-in *packer* (a shell script) is used.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import yaml from 'js-yaml';
import { SecretsManagerClient, CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { ExitCode } from '../../common/errors.ts';
import { fleetConfig, parseInstallerConfig } from '../../common/installer-config.ts';
import {
  buildArtifacts,
  ca,
  cliEnv,
  issueCertificate,
  leftoverStages,
  makePluginJar,
  runCli,
  seedClaim,
  startAwsStandin,
  startCli,
  tmp,
  waitFor,
  REPO,
  type AwsStandin,
  type SeededClaim,
} from './helpers.ts';

const work = tmp('gg-build-test-');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const {
  'nucleus-source': nucleusZip,
  'nucleus-sha256': nucleusSha,
  'plugin-source': pluginJar,
  'plugin-sha256': pluginSha,
  'root-ca': rootCa,
} = buildArtifacts(work);
const pluginBytes = readFileSync(pluginJar);

const other = issueCertificate(ca, { commonName: 'other' });

let s: AwsStandin;
let claim: SeededClaim;
t.before(async () => {
  s = await startAwsStandin({
    ca,
    endpoints: { region: 'eu-west-1', iotDataEndpoint: '10.0.2.2', iotCredEndpoint: '10.0.2.2' },
  });
  claim = await seedClaim(s, 'dev', { groups: ['GreengrassGoldenImageCores', 'Branches'] });
  await seedClaim(s, 'nopolicy', { policy: false });
  await seedClaim(s, 'inactive', { status: 'INACTIVE' });
  await seedClaim(s, 'deleted', { deleted: true });
  const sm = new SecretsManagerClient({
    endpoint: s.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  const put = (env: string, value: string) =>
    sm.send(new CreateSecretCommand({ Name: `greengrass/${env}/claims-certificate`, SecretString: value }));
  const arn = claim.certificateArn;
  await put(
    'mismatch',
    JSON.stringify({
      certificatePem: claim.certificatePem,
      privateKey: other.privateKeyPem,
      certificateArn: arn,
      certificateId: claim.certificateId,
    }),
  );
  await put('legacy', `${claim.certificatePem.replace(/\n/g, ';')}|${claim.privateKeyPem.replace(/\n/g, ';')}`);
  await put('partial', JSON.stringify({ certificatePem: claim.certificatePem }));
});
t.teardown(() => s.close());

/** One TMPDIR per run so leftover staging dirs are visible. */
function env(tmpDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return cliEnv(s, { TMPDIR: tmpDir, AWS_EC2_METADATA_DISABLED: 'true', ...extra });
}

function buildArgs(dir: string, over: Record<string, string> = {}): string[] {
  const o: Record<string, string> = {
    target: 'qemu',
    env: 'dev',
    'nucleus-source': nucleusZip,
    'nucleus-sha256': nucleusSha,
    'plugin-source': pluginJar,
    'plugin-sha256': pluginSha,
    'root-ca': rootCa,
    'output-dir': join(dir, 'out'),
    'cache-dir': join(dir, 'cache'),
    ...over,
  };
  return ['build', '--skip-agent-build', ...Object.entries(o).flatMap(([k, v]) => [`--${k}`, v])];
}

const stagePath = (stderr: string) => /staging in (\S+)/.exec(stderr)?.[1];

async function badBuild(
  t: Test,
  over: Record<string, string>,
  code: number,
  message: RegExp,
  opts: { staged: boolean },
) {
  const dir = tmp('gg-build-bad-');
  const r = await runCli(buildArgs(dir, over), env(dir));
  t.equal(
    r.code,
    code,
    `exit ${code}: ${r.stderr
      .split('\n')
      .filter((l) => l.includes('error:'))
      .join(' ')}`,
  );
  const errs = r.stderr.split('\n').filter((l) => l.startsWith('greengrass-image: error:'));
  t.equal(errs.length, 1, 'one error line');
  t.match(errs[0] ?? '', message);
  const staged = stagePath(r.stderr);
  if (opts.staged) {
    t.ok(staged, 'a staging dir had been created');
    t.notOk(staged && existsSync(staged), 'staging dir removed');
  } else t.notOk(staged, 'failed before staging anything');
  t.same(leftoverStages(dir), [], 'no staging dir left in TMPDIR');
  t.notOk(existsSync(join(dir, 'out')), 'no output dir');
  t.notOk(r.stderr.includes('PRIVATE KEY') || r.stdout.includes('PRIVATE KEY'), 'key never printed');
  return r;
}

t.test('unknown target: usage error, exit 2', async (t) => {
  await badBuild(
    t,
    { target: 'hyperv' },
    ExitCode.USAGE,
    /unknown target "hyperv": use one of vsphere, vmware, virtualbox, qemu/,
    { staged: false },
  );
});

t.test('--format: ova only, and only for the qemu target: usage error before anything is staged', async (t) => {
  await badBuild(t, { format: 'ovf' }, ExitCode.USAGE, /unknown --format "ovf": use ova/, { staged: false });
  await badBuild(
    t,
    { target: 'vmware', format: 'ova' },
    ExitCode.USAGE,
    /--format ova exports the qemu target's disk; the vmware target makes its own image/,
    { staged: false },
  );
});

t.test(
  'a thing group name IoT refuses (flag or settings file): usage error before any AWS call, nothing staged',
  async (t) => {
    const before = s.requests.length;
    await badBuild(t, { 'thing-group': 'Fl:eet' }, ExitCode.USAGE, /--thing-group "Fl:eet" contains ':'/, {
      staged: false,
    });
    await badBuild(
      t,
      { 'template-param': 'ThingGroupName=a b' },
      ExitCode.USAGE,
      /templateParameters.ThingGroupName "a b" has characters/,
      { staged: false },
    );
    t.equal(s.requests.length, before, 'no AWS call');
  },
);

t.test(
  '--root-path other than /greengrass/v2: usage error before any AWS call (the image is laid out there; clones would stop at exit 3)',
  async (t) => {
    const before = s.requests.length;
    await badBuild(
      t,
      { 'root-path': '/opt/greengrass' },
      ExitCode.USAGE,
      /--root-path \/opt\/greengrass: build bakes Greengrass into \/greengrass\/v2 only/,
      { staged: false },
    );
    t.equal(s.requests.length, before, 'no AWS call');
  },
);

t.test(
  'settings file: a value of the wrong type is a config error naming the key; its region signs the AWS calls',
  async (t) => {
    const dir = tmp('gg-build-settings-');
    const settings = join(dir, 'settings.yaml');
    writeFileSync(settings, 'output-dir: 123\n');
    await badBuild(t, { settings }, ExitCode.CONFIG, /settings file .*: output-dir must be a string, got 123/, {
      staged: false,
    });
    writeFileSync(settings, 'region: us-west-2\n');
    const before = s.requests.length;
    await badBuild(
      t,
      { settings, env: 'staging' },
      ExitCode.AWS,
      /secret greengrass\/staging\/claims-certificate not found/,
      { staged: true },
    );
    const get = s.requests.slice(before).filter((q) => q.op === 'GetSecretValue');
    t.ok(get.length > 0);
    for (const q of get)
      t.match(
        String(q.headers.authorization),
        /\/us-west-2\/secretsmanager\/aws4_request/,
        'signed for the settings region, not AWS_REGION',
      );
  },
);

t.test('--output-dir naming a file: exit 3 saying so, nothing staged', async (t) => {
  const dir = tmp('gg-build-outfile-');
  const file = join(dir, 'image.qcow2');
  writeFileSync(file, 'not a dir');
  await badBuild(
    t,
    { 'output-dir': file },
    ExitCode.CONFIG,
    /--output-dir .*image\.qcow2 exists and is not a directory/,
    {
      staged: false,
    },
  );
  t.equal(readFileSync(file, 'utf8'), 'not a dir', 'the file is left alone');
});

t.test(
  'an earlier build in the output dir: exit 3 naming --force; --on-error takes only what Packer can do here',
  async (t) => {
    const dir = tmp('gg-build-outused-');
    const out = join(dir, 'previous');
    mkdirSync(out);
    writeFileSync(join(out, 'greengrass-golden.qcow2'), 'old image');
    await badBuild(
      t,
      { 'output-dir': out },
      ExitCode.CONFIG,
      /already exists and is not empty \(an earlier build of image .+\?\): pass --force/,
      {
        staged: false,
      },
    );
    t.equal(readFileSync(join(out, 'greengrass-golden.qcow2'), 'utf8'), 'old image', 'the earlier image is kept');
    await badBuild(
      t,
      { 'on-error': 'ask' },
      ExitCode.USAGE,
      /--on-error "ask": use one of cleanup, abort, run-cleanup-provisioner/,
      {
        staged: false,
      },
    );
  },
);

t.test(
  '--force and --on-error reach packer; its ISO cache persists in the cache dir; abort names what is left',
  async (t) => {
    const dir = tmp('gg-build-loop-');
    const log = join(dir, 'packer.log');
    const fake = join(dir, 'packer');
    writeFileSync(
      fake,
      [
        '#!/bin/sh',
        '[ "$1" = version ] && { echo "Packer v1.6.6"; exit 0; }',
        'printf "%s\\n" "$@" > "$FAKE_PACKER_LOG.args"',
        'echo "$PACKER_CACHE_DIR" > "$FAKE_PACKER_LOG.cache"',
        'echo "==> qemu.ubuntu: Build was halted." >&2',
        'exit 1',
        '',
      ].join('\n'),
    );
    chmodSync(fake, 0o755);
    const out = join(dir, 'previous');
    mkdirSync(out);
    writeFileSync(join(out, 'greengrass-golden.qcow2'), 'old image');
    const r = await runCli(
      [...buildArgs(dir, { packer: fake, 'output-dir': out, 'on-error': 'abort', format: 'ova' }), '--force'],
      env(dir, { FAKE_PACKER_LOG: log }),
    );
    t.equal(r.code, ExitCode.TOOL, r.stderr.slice(-300));
    const args = readFileSync(`${log}.args`, 'utf8').trim().split('\n');
    t.ok(args.includes('-force'), 'packer -force');
    t.ok(args.includes('-on-error=abort'), 'packer -on-error=abort');
    t.ok(args.includes('vmware_tools=true'), 'an OVA build installs VMware tools in the image');
    t.equal(
      readFileSync(`${log}.cache`, 'utf8').trim(),
      join(dir, 'cache', 'packer'),
      'PACKER_CACHE_DIR in the cache dir',
    );
    t.match(r.stderr, /-on-error=abort left the qemu build VM and .*previous as they were: they hold the claim key/);
    t.same(leftoverStages(dir), [], 'staging dir removed all the same');
  },
);

t.test('missing packer: ToolError, exit 5', async (t) => {
  await badBuild(
    t,
    { packer: '/nonexistent/bin/packer' },
    ExitCode.TOOL,
    /packer not found at \/nonexistent\/bin\/packer/,
    { staged: false },
  );
  const dir = tmp('gg-build-nopath-');
  const r = await runCli(buildArgs(dir), env(dir, { PATH: '/nonexistent' }));
  t.equal(r.code, ExitCode.TOOL);
  t.match(r.stderr, /packer not found \(packer\): install Packer >= 1\.6\.6 or pass --packer PATH/);
});

t.test('missing secret: exit 4, staging dir removed', async (t) => {
  await badBuild(
    t,
    { env: 'staging' },
    ExitCode.AWS,
    /secret greengrass\/staging\/claims-certificate not found: run greengrass-image claim create --env staging first/,
    { staged: true },
  );
});

t.test('wrong secret (old cert|key format, missing fields): exit 3', async (t) => {
  await badBuild(t, { env: 'legacy' }, ExitCode.CONFIG, /old "cert\|key" format/, { staged: true });
  await badBuild(t, { env: 'partial' }, ExitCode.CONFIG, /is missing privateKey, certificateArn, certificateId/, {
    staged: true,
  });
});

t.test('key does not match the certificate: IntegrityError, exit 6', async (t) => {
  await badBuild(t, { env: 'mismatch' }, ExitCode.INTEGRITY, /private key does not match/, { staged: true });
});

t.test('the thing group the config names does not exist: exit 3 saying how to create it, nothing baked', async (t) => {
  await badBuild(
    t,
    { 'thing-group': 'NoSuchFleet' },
    ExitCode.CONFIG,
    /thing group NoSuchFleet does not exist: every clone's RegisterThing would fail\. Create it \(greengrass-image claim create --env dev --thing-group NoSuchFleet/,
    { staged: true },
  );
});

t.test(
  'the claim certificate is deleted, INACTIVE, or has no policy: exit 3 saying what to do, nothing baked',
  async (t) => {
    await badBuild(
      t,
      { env: 'deleted' },
      ExitCode.CONFIG,
      /claim certificate \S+ in secret greengrass\/deleted\/claims-certificate does not exist in IoT: .*claim rotate --env deleted --policy <claim policy>/,
      { staged: true },
    );
    await badBuild(
      t,
      { env: 'inactive' },
      ExitCode.CONFIG,
      /claim certificate \S+ in secret greengrass\/inactive\/claims-certificate is INACTIVE: .*claim rotate --env inactive --policy/,
      { staged: true },
    );
    await badBuild(
      t,
      { env: 'nopolicy' },
      ExitCode.CONFIG,
      /has no IoT policy: no clone could connect to provision\. Attach the claim policy: greengrass-image claim create --env nopolicy --policy/,
      { staged: true },
    );
  },
);

t.test(
  'a --plugin-source that matches its pinned SHA-256 but is not the plugin jar: exit 3, nothing baked',
  async (t) => {
    const dir = tmp('gg-build-badplugin-');
    const notJar = join(dir, 'not-a-jar.jar');
    writeFileSync(notJar, 'stand-in FleetProvisioningByClaim jar');
    await badBuild(
      t,
      { 'plugin-source': notJar, 'plugin-sha256': sha(readFileSync(notJar)) },
      ExitCode.CONFIG,
      /the plugin .*not-a-jar\.jar is not a jar .*pass the FleetProvisioningByClaim jar/,
      { staged: true },
    );
    const noManifest = makePluginJar(dir, { pluginClass: null });
    await badBuild(
      t,
      { 'plugin-source': noManifest, 'plugin-sha256': sha(readFileSync(noManifest)) },
      ExitCode.CONFIG,
      /manifest names GG-Plugin-Class \(none\), not com\.aws\.greengrass\.FleetProvisioningByClaimPlugin/,
      { staged: true },
    );
    const noClass = makePluginJar(dir, { classFile: false });
    await badBuild(
      t,
      { 'plugin-source': noClass, 'plugin-sha256': sha(readFileSync(noClass)) },
      ExitCode.CONFIG,
      /has no class file com\/aws\/greengrass\/FleetProvisioningByClaimPlugin\.class/,
      { staged: true },
    );
  },
);

t.test('checksum mismatch (local file and mirror download): exit 6, nothing cached', async (t) => {
  await badBuild(
    t,
    { 'nucleus-sha256': 'f07742c76eca868617127b5c6c9028e41c45c2b4ec25dd0db6f3b40ef7638b4e' },
    ExitCode.INTEGRITY,
    new RegExp(`nucleus 2\\.16\\.0 at .*: SHA-256 ${nucleusSha} does not match the pinned f07742c7`),
    { staged: true },
  );
  const mirror = createServer((req, res) => {
    if (req.url === '/releases/aws-greengrass-FleetProvisioningByClaim/fleetprovisioningbyclaim-1.2.2.jar')
      res.end('tampered jar');
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  t.teardown(() => mirror.close());
  const base = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/releases`;
  const dir = tmp('gg-build-mirror-');
  const r = await runCli(buildArgs(dir, { 'plugin-source': base, 'plugin-sha256': pluginSha }), env(dir));
  t.equal(r.code, ExitCode.INTEGRITY);
  t.match(
    r.stderr,
    /plugin 1\.2\.2 from http:\/\/127\.0\.0\.1:\d+\/releases\/aws-greengrass-FleetProvisioningByClaim\/fleetprovisioningbyclaim-1\.2\.2\.jar: SHA-256 [0-9a-f]{64} does not match/,
  );
  t.same(existsSync(join(dir, 'cache')) ? readdirSync(join(dir, 'cache')) : [], [], 'the bad download is not cached');
  t.same(leftoverStages(dir), []);
});

t.test(
  'real packer build fails (variable validation): exit 5, staging dir removed; mirror download cached',
  async (t) => {
    const dir = tmp('gg-build-packerfail-');
    const site = join(dir, 'site.pkrvars.hcl');
    writeFileSync(site, `qemu_disk_image = "${join(dir, 'none.qcow2')}"\n`);
    const served: string[] = [];
    const mirror = createServer((req, res) => {
      served.push(req.url ?? '');
      if (req.url === '/gg/aws-greengrass-FleetProvisioningByClaim/fleetprovisioningbyclaim-1.2.2.jar')
        res.end(pluginBytes);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
    t.teardown(() => mirror.close());
    const base = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/gg/`;
    const r = await runCli(
      [...buildArgs(dir, { 'plugin-source': base }), '--var-file', site, '--var', 'memory=100'],
      env(dir),
    );
    t.same(
      served,
      ['/gg/aws-greengrass-FleetProvisioningByClaim/fleetprovisioningbyclaim-1.2.2.jar'],
      'fetched the versioned path from the mirror',
    );
    t.same(
      readdirSync(join(dir, 'cache')),
      [`${pluginSha}-fleetprovisioningbyclaim-1.2.2.jar`],
      'verified download cached by checksum',
    );
    t.equal(r.code, ExitCode.TOOL, r.stderr.slice(-400));
    t.match(r.stderr, /\[8\/\d+\] packer build -only=qemu\.ubuntu/);
    t.match(r.stderr, /packer \| .*memory variable must be at least 512/);
    t.match(r.stderr, /error: packer build failed \(exit 1\)/);
    t.same(leftoverStages(dir), []);
  },
);

/**
 * Stand-in for the external packer tool (the interruption tests only): reports 1.6.6, records what it was given and
 * its umask, makes its output dir with an image in it, and waits; on SIGINT/SIGTERM it runs `onStop` (shell).
 */
function writeFakePacker(
  dir: string,
  log: string,
  onStop = 'echo "got SIGINT" >> "$FAKE_PACKER_LOG"; kill $SLEEPER 2>/dev/null; exit 1',
): string {
  const fake = join(dir, 'packer');
  writeFileSync(
    fake,
    [
      '#!/bin/sh',
      'case "$1" in',
      '  version) echo "Packer v1.6.6"; exit 0 ;;',
      '  build) ;;',
      '  *) echo "unexpected: $*" >&2; exit 2 ;;',
      'esac',
      'for a in "$@"; do case "$a" in staging_dir=*) S="${a#staging_dir=}" ;; esac; done',
      'printf "%s\\n" "$@" > "$FAKE_PACKER_LOG.args"',
      'umask > "$FAKE_PACKER_LOG.umask"',
      'for a in "$@"; do case "$a" in output_directory=*) O="${a#output_directory=}" ;; esac; done',
      'mkdir -p "$O" && echo disk > "$O/greengrass-golden.qcow2"',
      'ls > "$FAKE_PACKER_LOG.packer-dir"',
      'cp http/user-data "$FAKE_PACKER_LOG.user-data"; stat -c %a http/user-data > "$FAKE_PACKER_LOG.user-data-mode"',
      'printf "%s\\n%s\\n" "$PKR_VAR_ssh_username" "$PKR_VAR_ssh_password" > "$FAKE_PACKER_LOG.account"',
      '(cd "$S" && find . -printf "%p %m\\n" | sort) > "$FAKE_PACKER_LOG.listing"',
      'cp "$S/config.yaml" "$S/build-info.json" "$S/agent.yaml" "$(dirname "$FAKE_PACKER_LOG")/"',
      `trap '${onStop}' INT TERM`,
      'echo "==> qemu.ubuntu: fake build running"',
      'sleep 120 & SLEEPER=$!',
      'echo $SLEEPER > "$FAKE_PACKER_LOG.sleeper"',
      'while kill -0 $SLEEPER 2>/dev/null; do wait $SLEEPER; done',
      '',
    ].join('\n'),
  );
  chmodSync(fake, 0o755);
  return fake;
}

t.test('SIGINT during packer build: packer is stopped, staging dir removed, exit 130', async (t) => {
  const dir = tmp('gg-build-sigint-');
  const log = join(dir, 'fake-packer.log');
  const fake = writeFakePacker(dir, log);
  const settings = join(dir, 'settings.yaml');
  writeFileSync(settings, 'target: qemu\nmqtt-port: 18883\nthing-group: Branches\nlocale: de_DE.UTF-8\n');
  const site = join(dir, 'site.pkrvars.hcl');
  writeFileSync(site, 'cpus = 1\n');
  const args = buildArgs(dir, { packer: fake, settings, 'var-file': site });
  args.splice(args.indexOf('--target'), 2); // target from the settings file
  const run = startCli([...args, '--var', 'headless=true'], env(dir, { FAKE_PACKER_LOG: log }));
  await waitFor('packer to start', () => run.stderrSoFar().includes('fake build running'), 120_000);
  const staged = stagePath(run.stderrSoFar())!;
  t.ok(existsSync(join(staged, 'files', 'claim.private.pem.key')), 'staged while packer runs');

  const listing = readFileSync(`${log}.listing`, 'utf8').trim().split('\n');
  const modes = Object.fromEntries(listing.map((l) => l.split(' ') as [string, string]));
  t.same(
    Object.keys(modes).sort(),
    [
      '.',
      './AmazonRootCA1.pem',
      './agent.md',
      './agent.yaml',
      './build-info.json',
      './claim.pem.crt',
      './claim.private.pem.key',
      './config.yaml',
      './fleetprovisioningbyclaim.jar',
      './greengrass-firstboot',
      './greengrass-firstboot.service',
      './greengrass-nucleus.zip',
    ],
    'the staging contract: exactly these files',
  );
  t.equal(modes['.'], '700', 'files dir 0700');
  t.equal(modes['./claim.private.pem.key'], '600', 'claim key 0600');
  t.equal(modes['./greengrass-firstboot'], '755', 'agent executable');
  t.equal(readFileSync(join(staged, 'files', 'claim.private.pem.key'), 'utf8'), claim.privateKeyPem);
  t.equal(sha(readFileSync(join(staged, 'files', 'greengrass-nucleus.zip'))), nucleusSha);
  t.equal(readFileSync(join(staged, 'files', 'AmazonRootCA1.pem'), 'utf8'), ca.certificatePem);
  const cfg = fleetConfig(parseInstallerConfig(readFileSync(join(dir, 'config.yaml'), 'utf8')));
  t.equal(cfg.mqttPort, 18883, 'mqtt-port from the settings file');
  t.equal(cfg.iotDataEndpoint, '10.0.2.2', 'endpoint discovered from the stand-in');
  t.same(cfg.templateParameters, { ThingName: '{{thingName}}', ThingGroupName: 'Branches' });
  const info = JSON.parse(readFileSync(join(dir, 'build-info.json'), 'utf8'));
  t.match(info, {
    nucleusVersion: '2.16.0',
    pluginVersion: '1.2.2',
    claimCertificateId: claim.certificateId,
    packerVersion: '1.6.6',
  });
  t.ok(!Number.isNaN(Date.parse(info.builtAt)));
  t.equal(readFileSync(join(dir, 'agent.yaml'), 'utf8'), readFileSync(join(REPO, 'agent/agent.yaml'), 'utf8'));
  const pargs = readFileSync(`${log}.args`, 'utf8').trim().split('\n');
  t.same(pargs.slice(0, 3), ['build', '-color=false', '-only=qemu.ubuntu']);
  t.ok(pargs.includes(`staging_dir=${join(staged, 'files')}`));
  t.ok(pargs.includes(`-var-file=${join(staged, 'packer', 'qemu.pkrvars.hcl')}`));
  t.ok(pargs.includes(`-var-file=${site}`), 'user var-file passed');
  t.ok(pargs.includes('headless=true'), '--var passed');
  t.ok(pargs.includes(`output_directory=${join(dir, 'out')}`));
  t.equal(pargs.at(-1), '.');
  t.equal(readFileSync(`${log}.umask`, 'utf8').trim(), '0077', 'packer runs with umask 077');
  t.equal(
    statSync(join(dir, 'out')).mode & 0o777,
    0o700,
    'the output dir packer made (the image holds the claim key) is 0700',
  );
  t.equal(statSync(join(dir, 'out', 'greengrass-golden.qcow2')).mode & 0o777, 0o600, 'the image file is 0600');
  const packerDir = readFileSync(`${log}.packer-dir`, 'utf8').split('\n');
  t.notOk(packerDir.includes('plugins.pkr.hcl'), 'plugins.pkr.hcl left out for Packer < 1.7');
  t.ok(packerDir.includes('sources.pkr.hcl') && packerDir.includes('scripts') && packerDir.includes('http'));
  const [user, password] = readFileSync(`${log}.account`, 'utf8').split('\n');
  t.equal(user, 'packer', 'build account through PKR_VAR_ssh_username');
  t.match(password, /^[A-Za-z0-9_-]{32}$/, 'a generated build password through PKR_VAR_ssh_password');
  t.notOk(
    pargs.some((a) => a.includes(password!)),
    'the password is not on the command line',
  );
  const userData = yaml.load(readFileSync(`${log}.user-data`, 'utf8')) as { autoinstall: Record<string, any> };
  const hash: string = userData.autoinstall.identity.password;
  const again = spawnSync('openssl', ['passwd', '-6', '-salt', hash.split('$')[2]!, '-stdin'], {
    input: `${password}\n`,
    encoding: 'utf8',
  });
  t.equal(again.stdout.trim(), hash, 'the staged user-data carries the hash of the password Packer was given');
  t.equal(userData.autoinstall.locale, 'de_DE.UTF-8', 'locale from the settings file');
  t.equal(readFileSync(`${log}.user-data-mode`, 'utf8').trim(), '600', 'user-data readable by the owner only');

  run.child.kill('SIGINT');
  const r = await run.done;
  t.equal(r.code, ExitCode.INTERRUPTED, r.stderr.slice(-300));
  t.match(r.stderr, /error: interrupted by SIGINT/);
  t.notOk(existsSync(staged), 'staging dir gone');
  t.same(leftoverStages(dir), []);
  t.match(readFileSync(log, 'utf8'), /got SIGINT/, 'packer was told to stop');
});

t.test('a second SIGINT while packer cleans up kills it, and says what may still hold the claim key', async (t) => {
  const dir = tmp('gg-build-sigint2-');
  const log = join(dir, 'fake-packer.log');
  const fake = writeFakePacker(dir, log, 'echo "ignoring" >> "$FAKE_PACKER_LOG"'); // a packer slow to stop its VM
  t.teardown(() => {
    const sleeper = existsSync(`${log}.sleeper`) ? Number(readFileSync(`${log}.sleeper`, 'utf8')) : 0;
    if (sleeper > 0) {
      try {
        process.kill(sleeper, 'SIGKILL'); // the stand-in's own sleep, orphaned when the builder killed the stand-in
      } catch {
        // already gone
      }
    }
  });
  const settings = join(dir, 'settings.yaml');
  writeFileSync(settings, 'target: qemu\nmqtt-port: 18883\n');
  const site = join(dir, 'site.pkrvars.hcl');
  writeFileSync(site, 'cpus = 1\n');
  const args = buildArgs(dir, { packer: fake, settings, 'var-file': site });
  args.splice(args.indexOf('--target'), 2);
  const run = startCli(args, env(dir, { FAKE_PACKER_LOG: log }));
  await waitFor('packer to start', () => run.stderrSoFar().includes('fake build running'), 120_000);
  const staged = stagePath(run.stderrSoFar())!;
  run.child.kill('SIGINT');
  await waitFor(
    'packer to get the SIGINT',
    () => existsSync(log) && readFileSync(log, 'utf8').includes('ignoring'),
    30_000,
  );
  run.child.kill('SIGINT');
  const r = await run.done;
  t.equal(r.code, ExitCode.INTERRUPTED);
  t.match(
    r.stderr,
    new RegExp(
      `second SIGINT: packer killed before it could clean up; the qemu build VM and ${join(dir, 'out').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} may still hold the claim key`,
    ),
  );
  t.notOk(existsSync(staged), 'staging dir gone');
  t.same(leftoverStages(dir), []);
});

t.test('SIGTERM while waiting on AWS (no packer running yet): staging dir removed, exit 130', async (t) => {
  const dir = tmp('gg-build-sigterm-');
  s.setLatency('GetSecretValue', 8000);
  t.teardown(() => s.setLatency('GetSecretValue', 0));
  const run = startCli(buildArgs(dir), env(dir));
  await waitFor('the secret fetch', () => /\[2\/\d+\] reading the claim/.test(run.stderrSoFar()), 120_000);
  const staged = stagePath(run.stderrSoFar())!;
  t.ok(existsSync(staged), 'staging dir exists mid-build');
  run.child.kill('SIGTERM');
  const r = await run.done;
  t.equal(r.code, ExitCode.INTERRUPTED);
  t.match(r.stderr, /error: interrupted by SIGTERM/);
  t.notOk(existsSync(staged), 'staging dir gone');
  t.same(leftoverStages(dir), []);
  t.notMatch(r.stderr, /\[8\/\d+\]/, 'packer build never started');
});
