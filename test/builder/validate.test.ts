// greengrass-image validate with the real Packer (Debian's 1.6.6): templates, fmt, config schema,
// provisioning template parameters. Plus the global --profile / --region flags (standard chain).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../common/errors.ts';
import { ca, cliEnv, makePluginJar, runCli, seedClaim, startAwsStandin, tmp, type AwsStandin } from './helpers.ts';

let s: AwsStandin;
t.before(async () => {
  s = await startAwsStandin({ ca });
});
t.teardown(() => s.close());

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

t.test(
  'validate: every source validates on Packer 1.6.6, fmt is canonical, config matches the provisioning template',
  async (t) => {
    const r = await runCli(['validate', '--json'], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; packerVersion: string; checks: Check[] };
    t.equal(out.ok, true);
    t.equal(out.packerVersion, '1.6.6');
    const names = out.checks.map((c) => c.name);
    for (const src of ['vsphere-iso.ubuntu', 'vmware-iso.ubuntu', 'virtualbox-iso.ubuntu', 'qemu.ubuntu']) {
      t.ok(
        names.some((n) => n.includes(`validate ${src}`)),
        `full validate of ${src}`,
      );
    }
    t.ok(names.includes('packer fmt -check'));
    t.match(
      out.checks.find((c) => c.name === 'provisioning template parameters'),
      { ok: true, detail: /ThingName, ThingGroupName/ },
    );
    t.equal(s.requests.length, 0, 'validate makes no AWS calls');
  },
);

t.test(
  'validate catches a bad config, extra template parameters, bad site vars; missing packer is exit 5',
  async (t) => {
    const dir = tmp('gg-validate-');
    const bad = join(dir, 'config.yaml');
    writeFileSync(bad, 'services:\n  aws.greengrass.Nucleus:\n    version: latest\n');
    let r = await runCli(['validate', '--config', bad], cliEnv(s));
    t.equal(r.code, ExitCode.CONFIG);
    t.match(r.stdout, /FAIL installer config schema: .*version must pin the nucleus version/);
    t.match(r.stderr, /error: validate: 1 check\(s\) failed: installer config schema/);

    r = await runCli(['validate', '--template-param', 'Serial={{serial}}', '--json'], cliEnv(s));
    t.equal(r.code, ExitCode.CONFIG);
    const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
    t.match(
      checks.find((c) => c.name === 'provisioning template parameters'),
      { ok: false, detail: /templateParameters\.Serial is not a parameter of the provisioning template/ },
    );

    const site = join(dir, 'site.pkrvars.hcl');
    writeFileSync(
      site,
      'vcenter_server = "vc.invalid"\nvsphere_username = "u"\nvsphere_password = "p"\nvsphere_datacenter = "d"\nvsphere_cluster = "c"\nvsphere_datastore = "s"\nqemu_disk_image = "/x.qcow2"\nmemory = 100\n',
    );
    r = await runCli(['validate', '--var-file', site], cliEnv(s));
    t.equal(r.code, ExitCode.CONFIG);
    t.match(r.stdout, /FAIL packer validate qemu\.ubuntu \(site vars\): .*memory variable must be at least 512/);

    r = await runCli(['validate', '--packer', join(dir, 'no-packer'), '--json'], cliEnv(s));
    t.equal(r.code, ExitCode.TOOL);
    t.match(r.stderr, /packer not found at/);
    t.same(
      JSON.parse(r.stdout),
      {
        error: {
          reason: 'packer-missing',
          exitCode: ExitCode.TOOL,
          message: `packer not found at ${join(dir, 'no-packer')} (--packer)`,
        },
      },
      '--json: one error document',
    );
  },
);

t.test(
  'validate --config: a plain scalar the nucleus reads as a number (YAML 1.1) fails with the key to quote',
  async (t) => {
    const dir = tmp('gg-validate-yaml11-');
    const render = await runCli(
      [
        'config',
        'render',
        '--iot-data-endpoint',
        'a-ats.iot.eu-west-1.amazonaws.com',
        '--iot-cred-endpoint',
        'c.credentials.iot.eu-west-1.amazonaws.com',
        '--thing-group',
        'G123_456',
      ],
      cliEnv(s),
    );
    t.equal(render.code, 0, render.stderr);
    const file = join(dir, 'config.yaml');
    writeFileSync(file, render.stdout.replace('"G123_456"', '123_456'));
    const r = await runCli(['validate', '--config', file, '--json'], cliEnv(s));
    t.equal(r.code, ExitCode.CONFIG, r.stderr);
    const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
    t.match(
      checks.find((c) => c.name === 'installer config as the nucleus reads it (YAML 1.1)'),
      {
        ok: false,
        detail: /templateParameters\.ThingGroupName: "123_456" is read as 123456/,
      },
    );
  },
);

t.test(
  'validate --env --plugin-source: the claim, the thing group and the plugin jar as build checks them',
  async (t) => {
    const dir = tmp('gg-validate-bake-');
    await seedClaim(s, 'vdev');
    await seedClaim(s, 'vnopolicy', { policy: false });
    const jar = makePluginJar(dir);
    let r = await runCli(['validate', '--env', 'vdev', '--plugin-source', jar, '--json'], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    let checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
    t.match(
      checks.find((c) => c.name === 'claim certificate (greengrass/vdev/claims-certificate)'),
      { ok: true, detail: /ACTIVE, policy GreengrassClaimPolicy/ },
    );
    t.match(
      checks.find((c) => c.name === 'thing group GreengrassGoldenImageCores'),
      { ok: true },
    );
    t.match(
      checks.find((c) => c.name === `plugin jar ${jar}`),
      { ok: true },
    );

    const notJar = join(dir, 'plugin.jar');
    writeFileSync(notJar, 'not a jar');
    r = await runCli(
      ['validate', '--env', 'vnopolicy', '--thing-group', 'NoSuchFleet', '--plugin-source', notJar, '--json'],
      cliEnv(s),
    );
    t.equal(r.code, ExitCode.CONFIG, r.stderr);
    checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
    t.match(
      checks.find((c) => c.name === 'claim certificate (greengrass/vnopolicy/claims-certificate)'),
      { ok: false, detail: /has no IoT policy.*claim create --env vnopolicy --policy/ },
    );
    t.match(
      checks.find((c) => c.name === 'thing group NoSuchFleet'),
      { ok: false, detail: /does not exist: every clone's RegisterThing would fail/ },
    );
    t.match(
      checks.find((c) => c.name === `plugin jar ${notJar}`),
      { ok: false, detail: /is not a jar/ },
    );
  },
);

t.test('validate --config that does not exist: config error (3), not an internal error', async (t) => {
  const missing = join(tmp('gg-validate-missing-'), 'missing.yaml');
  const r = await runCli(['validate', '--config', missing], cliEnv(s));
  t.equal(r.code, ExitCode.CONFIG, r.stderr);
  t.match(r.stderr, new RegExp(`error: cannot read --config ${missing}: ENOENT`));
  t.notMatch(r.stderr, /internal error/);
});

t.test('--profile and --region: the SDK takes credentials from the named profile', async (t) => {
  const dir = tmp('gg-profile-');
  const creds = join(dir, 'credentials');
  writeFileSync(
    creds,
    '[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = x\n[branch-ops]\naws_access_key_id = AKIDBRANCHOPS\naws_secret_access_key = y\n',
  );
  s.requests.length = 0;
  const env = cliEnv(s, {
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_REGION: undefined,
    AWS_SHARED_CREDENTIALS_FILE: creds,
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  const r = await runCli(['endpoints', '--profile', 'branch-ops', '--region', 'ap-southeast-2', '--json'], env);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).region, 'ap-southeast-2');
  const auth = String(s.requests[0].headers.authorization);
  t.match(auth, /Credential=AKIDBRANCHOPS\/\d{8}\/ap-southeast-2\/iot\/aws4_request/);
  const noRegion = await runCli(['endpoints', '--profile', 'branch-ops'], env);
  t.equal(noRegion.code, ExitCode.USAGE);
  t.match(noRegion.stderr, /no AWS region: pass --region or set AWS_REGION/);
});
