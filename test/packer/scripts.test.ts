// The provisioning scripts: shellcheck as POSIX sh, and the install steps run for real against a
// throwaway root tree (ROOT=<dir>, GG_STAGE=<staging copy>) with a stand-in-CA claim certificate.
import t from 'tap';
import yaml from 'js-yaml';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
  chmodSync as chmod,
  cpSync,
} from 'node:fs';
import { join } from 'node:path';
import { createCa, issueCertificate } from '../../standins/pki.ts';
import { REPO, SCRIPTS_DIR, run, scripts, tmp } from './packer-env.ts';

const mode = (p: string) => statSync(p).mode & 0o777;

t.test('every script: POSIX sh, set -eu, shellcheck -s sh clean', async (t) => {
  const all = scripts();
  t.ok(all.length >= 7, `scripts: ${all.join(', ')}`);
  for (const s of all) {
    const text = readFileSync(join(SCRIPTS_DIR, s), 'utf8');
    t.match(text, /^#!\/bin\/sh\n/, `${s}: #!/bin/sh`);
    t.match(text, /^set -eu$/m, `${s}: set -eu`);
    t.notMatch(text, /^\s*set -[a-z]*x/m, `${s}: no xtrace (would print key paths/contents)`);
  }
  const r = run('shellcheck', ['-s', 'sh', ...all.map((s) => join(SCRIPTS_DIR, s))]);
  t.equal(r.status, 0, r.stdout + r.stderr);
});

/** The staging dir exactly as the builder fills it (names from the build contract). */
function stage(dir: string): { stage: string; claimKey: string } {
  const stage = join(dir, 'gg-stage');
  mkdirSync(stage, { mode: 0o700 });
  const zipSrc = join(dir, 'zip-src');
  mkdirSync(join(zipSrc, 'lib'), { recursive: true });
  mkdirSync(join(zipSrc, 'bin'), { recursive: true });
  writeFileSync(join(zipSrc, 'lib/Greengrass.jar'), 'stand-in nucleus jar');
  writeFileSync(join(zipSrc, 'bin/loader'), '#!/bin/sh\n');
  chmod(join(zipSrc, 'bin/loader'), 0o777); // a world-writable entry in the zip
  const z = run('zip', ['-q', '-r', join(stage, 'greengrass-nucleus.zip'), 'lib', 'bin'], { cwd: zipSrc });
  if (z.status !== 0) throw new Error(z.stderr);
  writeFileSync(join(stage, 'fleetprovisioningbyclaim.jar'), 'stand-in plugin jar');
  writeFileSync(join(stage, 'config.yaml'), '---\nservices: {}\n');
  const ca = createCa('stand-in Amazon Root CA 1');
  const claim = issueCertificate(ca, { commonName: 'claim' });
  writeFileSync(join(stage, 'AmazonRootCA1.pem'), ca.certificatePem);
  writeFileSync(join(stage, 'claim.pem.crt'), claim.certificatePem);
  writeFileSync(join(stage, 'claim.private.pem.key'), claim.privateKeyPem, { mode: 0o600 });
  cpSync(join(REPO, 'systemd/greengrass-firstboot.service'), join(stage, 'greengrass-firstboot.service'));
  cpSync(join(REPO, 'agent/agent.yaml'), join(stage, 'agent.yaml'));
  cpSync(join(REPO, 'docs/agent.md'), join(stage, 'agent.md'));
  writeFileSync(join(stage, 'greengrass-firstboot'), '#!/bin/sh\necho stand-in agent executable\n', { mode: 0o755 });
  writeFileSync(
    join(stage, 'build-info.json'),
    JSON.stringify({ nucleusVersion: '2.16.0', builtAt: new Date().toISOString() }),
  );
  return { stage, claimKey: claim.privateKeyPem };
}

function sh(script: string, env: Record<string, string>) {
  return run('sh', ['-eu', join(SCRIPTS_DIR, script)], { env: { PATH: process.env.PATH, ...env } });
}

t.test('install scripts against a throwaway root: layout, claim certs, agent, ggc user, cleanup', async (t) => {
  const dir = tmp('gg-install-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const { stage: st, claimKey } = stage(dir);
  const root = join(dir, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  for (const f of ['passwd', 'group', 'shadow', 'gshadow']) cpSync(`/etc/${f}`, join(root, 'etc', f));
  const env = { ROOT: root, GG_STAGE: st, GGC_USER: 'ggc_user', GGC_GROUP: 'ggc_group' };

  const hostPasswd = readFileSync('/etc/passwd', 'utf8');
  let r = sh('ggc-user.sh', env);
  t.equal(r.status, 0, r.stderr);
  t.match(readFileSync(join(root, 'etc/group'), 'utf8'), /^ggc_group:x:\d+:$/m, 'group in ROOT/etc/group');
  const pw = /^ggc_user:x:(\d+):(\d+)::\/home\/ggc_user:\/usr\/sbin\/nologin$/m.exec(
    readFileSync(join(root, 'etc/passwd'), 'utf8'),
  );
  t.ok(pw, 'system user, no login, a home under /home as the nucleus installer makes (useradd -r -m)');
  const home = statSync(join(root, 'home/ggc_user'));
  t.ok(home.isDirectory(), 'its home exists in ROOT');
  t.same(
    [home.uid, home.gid],
    [Number(pw?.[1]), Number(pw?.[2])],
    'and belongs to it: components run with HOME there (sudo -H)',
  );
  t.equal(readFileSync('/etc/passwd', 'utf8'), hostPasswd, 'host /etc/passwd untouched');
  r = sh('ggc-user.sh', env);
  t.equal(r.status, 0, 'idempotent');
  t.match(r.stdout, /user ggc_user exists/);

  r = sh('greengrass-layout.sh', env);
  t.equal(r.status, 0, r.stderr);
  const gg = join(root, 'greengrass/v2');
  t.equal(
    readFileSync(join(gg, 'installer/lib/Greengrass.jar'), 'utf8'),
    'stand-in nucleus jar',
    'nucleus unzipped under installer/',
  );
  t.equal(mode(join(gg, 'installer/bin/loader')) & 0o022, 0, 'unzipped tree not group/world writable');
  t.equal(
    readFileSync(join(gg, 'installer/aws.greengrass.FleetProvisioningByClaim.jar'), 'utf8'),
    'stand-in plugin jar',
  );
  t.equal(mode(join(gg, 'installer/config.yaml')), 0o600);
  t.match(readFileSync(join(gg, 'AmazonRootCA1.pem'), 'utf8'), /BEGIN CERTIFICATE/);

  r = sh('claim-certs.sh', env);
  t.equal(r.status, 0, r.stderr);
  const cc = join(gg, 'claim-certs');
  t.equal(mode(cc), 0o700, 'claim-certs/ 0700');
  for (const f of ['claim.pem.crt', 'claim.private.pem.key']) {
    const s = statSync(join(cc, f));
    t.equal(s.mode & 0o777, 0o600, `${f} 0600`);
    t.equal(s.uid, 0, `${f} owned by root`);
    t.equal(s.gid, 0);
  }
  t.equal(readFileSync(join(cc, 'claim.private.pem.key'), 'utf8'), claimKey);
  const keyBody = claimKey.split('\n')[1]!;
  t.notMatch(r.stdout + r.stderr, keyBody, 'key material never printed');

  r = sh('agent.sh', env);
  t.equal(r.status, 0, r.stderr);
  t.equal(mode(join(root, 'usr/local/bin/greengrass-firstboot')), 0o755);
  t.same(
    yaml.load(readFileSync(join(root, 'etc/greengrass-firstboot/agent.yaml'), 'utf8')),
    yaml.load(readFileSync(join(REPO, 'agent/agent.yaml'), 'utf8')),
    'agent.yaml as shipped (default user)',
  );
  t.ok(existsSync(join(root, 'etc/greengrass-firstboot/build-info.json')));
  const unitDoc = /^Documentation=file:(\S+)$/m.exec(
    readFileSync(join(root, 'etc/systemd/system/greengrass-firstboot.service'), 'utf8'),
  )?.[1];
  t.ok(unitDoc && existsSync(join(root, unitDoc)), `the unit's Documentation= (${unitDoc}) is installed`);
  const link = join(root, 'etc/systemd/system/multi-user.target.wants/greengrass-firstboot.service');
  t.ok(lstatSync(link).isSymbolicLink(), 'enabled: WantedBy=multi-user.target symlink');
  t.equal(readlinkSync(link), '/etc/systemd/system/greengrass-firstboot.service');

  r = sh('cleanup-stage.sh', env);
  t.equal(r.status, 0, r.stderr);
  t.notOk(existsSync(st), 'staging copy (with the claim key) removed');
});

t.test(
  "agent.sh: Packer's ggc_user/ggc_group become the agent's --component-default-user; nothing else in agent.yaml changes",
  async (t) => {
    const dir = tmp('gg-install-');
    t.teardown(() => run('rm', ['-rf', dir]));
    const { stage: st } = stage(dir);
    const root = join(dir, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    const r = sh('agent.sh', { ROOT: root, GG_STAGE: st, GGC_USER: 'gg_comp', GGC_GROUP: 'gg-grp' });
    t.equal(r.status, 0, r.stderr);
    const cfgPath = join(root, 'etc/greengrass-firstboot/agent.yaml');
    const shipped = yaml.load(readFileSync(join(REPO, 'agent/agent.yaml'), 'utf8')) as {
      installer: Record<string, unknown>;
    };
    shipped.installer.componentDefaultUser = 'gg_comp:gg-grp';
    t.same(yaml.load(readFileSync(cfgPath, 'utf8')), shipped);
    t.equal(mode(cfgPath), 0o644);
    t.notOk(existsSync(`${cfgPath}.tmp`));

    const bad = sh('agent.sh', { ROOT: join(dir, 'root2'), GG_STAGE: st, GGC_USER: 'gg comp', GGC_GROUP: 'x' });
    t.equal(bad.status, 3);
    t.match(bad.stderr, /invalid user\/group name 'gg comp:x'/);
    t.notOk(existsSync(join(dir, 'root2')), 'nothing installed');
  },
);

t.test('install scripts refuse bad staging input before writing anything', async (t) => {
  const dir = tmp('gg-install-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const { stage: st } = stage(dir);
  const root = join(dir, 'root');
  mkdirSync(root);
  const env = { ROOT: root, GG_STAGE: st };

  writeFileSync(join(st, 'claim.private.pem.key'), 'not a key\n');
  let r = sh('claim-certs.sh', env);
  t.equal(r.status, 3, 'exit 3 (configuration)');
  t.match(r.stderr, /claim\.private\.pem\.key is missing or not a PEM private key/);
  t.notOk(existsSync(join(root, 'greengrass')), 'nothing written');

  run('rm', ['-f', join(st, 'greengrass-nucleus.zip')]);
  r = sh('greengrass-layout.sh', env);
  t.equal(r.status, 3);
  t.match(r.stderr, /greengrass-nucleus\.zip is missing or empty/);
  t.notOk(existsSync(join(root, 'greengrass')), 'nothing written');

  writeFileSync(join(st, 'greengrass-nucleus.zip'), 'PK-not-really');
  r = sh('greengrass-layout.sh', env);
  t.equal(r.status, 3);
  t.match(r.stderr, /cannot unzip/);

  writeFileSync(join(st, 'greengrass-firstboot.service'), '[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n');
  r = sh('agent.sh', env);
  t.equal(r.status, 3);
  t.match(r.stderr, /no WantedBy=/);

  r = sh('cleanup-stage.sh', { GG_STAGE: '/etc' });
  t.equal(r.status, 3, 'cleanup refuses a stage outside /tmp');
  t.ok(existsSync('/etc/passwd'));

  r = sh('ggc-user.sh', { ROOT: root, GGC_USER: 'bad user' });
  t.equal(r.status, 3);
  t.match(r.stderr, /invalid user\/group name/);
});
