// seal.sh run for real on a throwaway root tree holding everything a used VM leaves behind, then
// the tree checked file by file: what must go, what must be reset, and what must stay.
import t from 'tap';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  writeFileSync,
  symlinkSync,
  chmodSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { SCRIPTS_DIR, run, tmp } from './packer-env.ts';

const OLD_ID = '0123456789abcdef0123456789abcdef';

function put(root: string, rel: string, content = 'x\n', mode?: number): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  if (mode !== undefined) chmodSync(p, mode);
  return p;
}

/** A used template VM, as a tree. */
function usedTree(root: string): void {
  // Unit files the image ships disabled, and a distribution preset like Debian's 90-systemd.preset (no "disable *").
  put(
    root,
    'usr/lib/systemd/system/ssh.socket',
    '[Unit]\nDescription=ssh socket\n[Socket]\nListenStream=22\n[Install]\nWantedBy=sockets.target\n',
  );
  put(
    root,
    'usr/lib/systemd/system/systemd-networkd.service',
    '[Unit]\nDescription=networkd\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
  );
  put(
    root,
    'usr/lib/systemd/system-preset/90-systemd.preset',
    'enable systemd-networkd.service\ndisable debug-shell.service\n',
  );
  put(root, 'etc/machine-id', `${OLD_ID}\n`);
  put(root, 'var/lib/dbus/machine-id', `${OLD_ID}\n`);
  put(root, 'var/lib/systemd/random-seed', 'seed');
  put(root, 'var/lib/systemd/credential.secret', 'secret', 0o400);
  for (const k of ['rsa', 'ecdsa', 'ed25519']) {
    put(root, `etc/ssh/ssh_host_${k}_key`, 'PRIVATE', 0o600);
    put(root, `etc/ssh/ssh_host_${k}_key.pub`, 'PUBLIC');
  }
  put(root, 'etc/ssh/sshd_config', 'Include /etc/ssh/sshd_config.d/*.conf\n');
  put(root, 'root/.ssh/authorized_keys', 'ssh-ed25519 AAAA builder\n');
  put(root, 'etc/hostname', 'greengrass-golden-template\n');
  put(root, 'etc/hosts', '127.0.0.1 localhost\n127.0.1.1 greengrass-golden-template\n::1 localhost ip6-localhost\n');
  put(root, 'etc/machine-info', 'PRETTY_HOSTNAME=template\n');
  put(root, 'var/lib/dhcp/dhclient.ens33.leases', 'lease { fixed-address 10.0.0.5; }\n');
  put(root, 'var/lib/NetworkManager/internal-abc-ens33.lease', 'ADDRESS=10.0.0.5\n');
  put(root, 'var/lib/NetworkManager/NetworkManager.state', '[main]\n');
  put(root, 'etc/udev/rules.d/70-persistent-net.rules', 'SUBSYSTEM=="net"\n');
  put(root, 'var/log/syslog', 'template boot log\n');
  put(root, 'var/log/syslog.1', 'old\n');
  put(root, 'var/log/apt/history.log.1.gz', 'gz');
  put(root, 'var/log/apt/term.log', 'apt output\n');
  put(root, 'var/log/wtmp', 'logins');
  put(root, 'var/log/cloud-init.log', 'ci\n');
  put(root, 'var/log/cloud-init-output.log', 'ci\n');
  put(root, `var/log/journal/${OLD_ID}/system.journal`, 'journal');
  put(root, 'root/.bash_history', 'cat /greengrass/v2/claim-certs/claim.private.pem.key\n');
  put(root, 'home/packer/.bash_history', 'sudo -i\n');
  put(root, 'home/packer/.viminfo', 'v\n');
  put(root, 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages', 'Package: x\n');
  put(root, 'var/cache/apt/pkgcache.bin', 'bin');
  put(root, 'var/cache/apt/archives/unzip_6.0-28_amd64.deb', 'deb');
  put(root, 'tmp/leftover.txt', 'junk');
  put(root, 'tmp/gg-stage/claim.private.pem.key', 'KEY', 0o600);
  put(root, 'tmp/script_4242.sh', '#!/bin/sh\n');
  put(root, 'var/tmp/cache.dat', 'junk');
  put(root, 'var/lib/cloud/instance/boot-finished', 'done');
  put(root, 'var/lib/cloud/data/instance-id', 'iid-template');
  put(root, 'var/lib/cloud/seed/nocloud/user-data', '#cloud-config\n');
  put(root, 'etc/cloud/cloud.cfg', 'datasource_list: [VMware, OVF, NoCloud, None]\n');
  put(root, 'etc/cloud/cloud.cfg.d/05_logging.cfg', '_log: []\n');
  for (const f of [
    '99-installer.cfg',
    '90-installer-network.cfg',
    'subiquity-disable-cloudinit-networking.cfg',
    'curtin-preserve-sources.cfg',
  ]) {
    put(root, `etc/cloud/cloud.cfg.d/${f}`, 'datasource_list: [None]\n');
  }
  put(root, 'etc/cloud/ds-identify.cfg', 'policy: enabled\n');
  put(root, 'etc/cloud/cloud-init.disabled', '');
  // Greengrass: what the image must keep ...
  put(root, 'greengrass/v2/installer/lib/Greengrass.jar', 'jar');
  put(root, 'greengrass/v2/installer/config.yaml', 'services: {}\n', 0o600);
  put(root, 'greengrass/v2/installer/aws.greengrass.FleetProvisioningByClaim.jar', 'jar');
  put(root, 'greengrass/v2/AmazonRootCA1.pem', 'CA');
  put(root, 'greengrass/v2/claim-certs/claim.pem.crt', 'CERT', 0o644);
  put(root, 'greengrass/v2/claim-certs/claim.private.pem.key', 'KEY', 0o644);
  chmodSync(join(root, 'greengrass/v2/claim-certs'), 0o755);
  // ... and a device identity from a test provisioning run, which it must not.
  put(root, 'greengrass/v2/config/config.tlog', '{"TS":1,"TP":["system","thingName"],"V":"template"}\n');
  put(root, 'greengrass/v2/config/effectiveConfig.yaml', 'system: {thingName: template}\n');
  put(root, 'greengrass/v2/thingCert.crt', 'DEVICE CERT');
  put(root, 'greengrass/v2/privKey.key', 'DEVICE KEY', 0o600);
  put(root, 'greengrass/v2/logs/greengrass.log', 'log');
  put(root, 'greengrass/v2/alts/current/launch.params', '-Dlog.store=FILE');
  put(root, 'etc/systemd/system/greengrass.service', '[Unit]\n');
  mkdirSync(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  symlinkSync(
    '/etc/systemd/system/greengrass.service',
    join(root, 'etc/systemd/system/multi-user.target.wants/greengrass.service'),
  );
  put(root, 'etc/systemd/system/greengrass-firstboot.service', '[Unit]\n');
  symlinkSync(
    '/etc/systemd/system/greengrass-firstboot.service',
    join(root, 'etc/systemd/system/multi-user.target.wants/greengrass-firstboot.service'),
  );
  put(root, 'etc/greengrass-firstboot/agent.yaml', '{}\n');
  put(root, 'var/lib/greengrass-firstboot/provisioned.json', '{"thingName":"template"}\n');
  put(root, 'var/lib/greengrass-firstboot/state.json', '{}\n');
  put(root, 'var/lib/greengrass-firstboot/config.yaml', 'filled\n', 0o600);
}

const gone = (root: string, rel: string) => !existsSync(join(root, rel)) && !isLink(join(root, rel));
function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

t.test('seal.sh on a used tree: checked file by file', async (t) => {
  const dir = tmp('gg-seal-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const root = join(dir, 'root');
  usedTree(root);
  const hostMachineId = readFileSync('/etc/machine-id', 'utf8');

  const r = run('sh', ['-eu', join(SCRIPTS_DIR, 'seal.sh')], { env: { PATH: process.env.PATH, ROOT: root } });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /agent seal skipped/);
  t.equal(readFileSync('/etc/machine-id', 'utf8'), hostMachineId, 'the host was not touched');

  t.test(
    'first boot\'s preset-all (what PID 1 runs for an "uninitialized" machine-id) enables nothing the template had disabled',
    async (t) => {
      const links = (r: string) =>
        run('find', [join(r, 'etc/systemd/system'), '-type', 'l'], {})
          .stdout.split('\n')
          .filter(Boolean)
          .map((l) => l.slice(r.length))
          .sort();
      const firstBoot = (r: string) => run('systemctl', [`--root=${r}`, 'preset-all', '--preset-mode=enable-only'], {});
      const before = links(root);
      const copy = join(dir, 'copy');
      run('cp', ['-a', root, copy]);
      const p = firstBoot(root);
      t.equal(p.status, 0, p.stderr);
      t.same(links(root), before, 'same enablement as the sealed template');
      t.match(
        readFileSync(join(root, 'etc/systemd/system-preset/00-golden-image.preset'), 'utf8'),
        /^disable ssh\.socket$/m,
        'names the units the template has disabled',
      );
      // A package installed on a clone later: deb-systemd-helper enables its unit through `systemctl preset`, which must
      // still follow the distribution's presets (a blanket "disable *" would leave every new service off).
      put(
        root,
        'usr/lib/systemd/system/nginx.service',
        '[Unit]\nDescription=web\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
      );
      const later = run('systemctl', [`--root=${root}`, 'preset', '--preset-mode=enable-only', 'nginx.service'], {});
      t.equal(later.status, 0, later.stderr);
      t.ok(
        links(root).includes('/etc/systemd/system/multi-user.target.wants/nginx.service'),
        'a unit added after the seal is enabled as the distribution presets say',
      );
      run('rm', [
        '-f',
        join(root, 'usr/lib/systemd/system/nginx.service'),
        join(root, 'etc/systemd/system/multi-user.target.wants/nginx.service'),
      ]);
      // The same first boot without the seal's preset: what a clone would have got.
      run('rm', [join(copy, 'etc/systemd/system-preset/00-golden-image.preset')]);
      firstBoot(copy);
      t.ok(
        links(copy).includes('/etc/systemd/system/sockets.target.wants/ssh.socket'),
        'without it, ssh.socket would be enabled beside ssh.service',
      );
    },
  );

  t.test('machine identity', async (t) => {
    t.equal(
      readFileSync(join(root, 'etc/machine-id'), 'utf8'),
      'uninitialized\n',
      'machine-id = "uninitialized" (systemd first boot)',
    );
    t.ok(isLink(join(root, 'var/lib/dbus/machine-id')), 'dbus machine-id is a link ...');
    t.equal(readlinkSync(join(root, 'var/lib/dbus/machine-id')), '/etc/machine-id', '... to /etc/machine-id');
    t.ok(gone(root, 'var/lib/systemd/random-seed'), 'random-seed');
    t.ok(gone(root, 'var/lib/systemd/credential.secret'), 'credential.secret');
  });

  t.test('SSH', async (t) => {
    const left = readdirSync(join(root, 'etc/ssh'));
    t.same(
      left.filter((f) => f.startsWith('ssh_host_')),
      [],
      'no host keys',
    );
    t.ok(existsSync(join(root, 'etc/ssh/sshd_config')), 'sshd_config kept');
    t.ok(gone(root, 'root/.ssh/authorized_keys'), "root's authorized_keys");
    const unit = join(root, 'etc/systemd/system/ssh-host-keys.service');
    const text = readFileSync(unit, 'utf8');
    t.match(text, /^ExecStart=\/usr\/bin\/ssh-keygen -A$/m, 'first-boot unit regenerates keys');
    t.match(text, /^ConditionPathExistsGlob=!\/etc\/ssh\/ssh_host_\*_key$/m, 'only when none exist');
    t.match(text, /^Before=ssh\.service/m);
    for (const wants of ['multi-user.target.wants', 'ssh.service.wants']) {
      t.equal(
        readlinkSync(join(root, 'etc/systemd/system', wants, 'ssh-host-keys.service')),
        '/etc/systemd/system/ssh-host-keys.service',
        `enabled (${wants})`,
      );
    }
    const v = run('systemd-analyze', ['verify', unit]);
    t.equal(v.status, 0, `systemd-analyze verify: ${v.stderr}`);
  });

  t.test('hostname and network', async (t) => {
    t.equal(
      readFileSync(join(root, 'etc/hostname'), 'utf8'),
      '',
      '/etc/hostname empty: clones take DHCP / customization / kernel names',
    );
    const hosts = readFileSync(join(root, 'etc/hosts'), 'utf8');
    t.notMatch(hosts, /greengrass-golden-template/, 'template name gone from /etc/hosts');
    t.match(hosts, /^127\.0\.0\.1 localhost$/m, 'localhost kept');
    t.ok(gone(root, 'etc/machine-info'));
    t.ok(gone(root, 'var/lib/dhcp/dhclient.ens33.leases'), 'dhclient lease');
    t.ok(gone(root, 'var/lib/NetworkManager/internal-abc-ens33.lease'), 'NetworkManager lease');
    t.ok(existsSync(join(root, 'var/lib/NetworkManager/NetworkManager.state')), 'NetworkManager state kept');
    t.ok(gone(root, 'etc/udev/rules.d/70-persistent-net.rules'));
  });

  t.test('logs, journal, history', async (t) => {
    t.equal(statSync(join(root, 'var/log/syslog')).size, 0, 'syslog truncated');
    t.equal(statSync(join(root, 'var/log/apt/term.log')).size, 0, 'apt/term.log truncated');
    t.equal(statSync(join(root, 'var/log/wtmp')).size, 0, 'wtmp truncated');
    t.ok(gone(root, 'var/log/syslog.1'), 'rotated log');
    t.ok(gone(root, 'var/log/apt/history.log.1.gz'), 'compressed log');
    t.ok(existsSync(join(root, 'var/log/journal')), 'persistent journal dir kept');
    t.same(readdirSync(join(root, 'var/log/journal')), [], 'journal of the template machine-id gone');
    for (const h of ['root/.bash_history', 'home/packer/.bash_history', 'home/packer/.viminfo']) t.ok(gone(root, h), h);
  });

  t.test('apt and temp files', async (t) => {
    t.same(readdirSync(join(root, 'var/lib/apt/lists')), [], 'apt lists');
    t.ok(gone(root, 'var/cache/apt/pkgcache.bin'));
    t.ok(gone(root, 'var/cache/apt/archives/unzip_6.0-28_amd64.deb'));
    t.same(readdirSync(join(root, 'tmp')), ['script_4242.sh'], "/tmp emptied except Packer's own script");
    t.same(readdirSync(join(root, 'var/tmp')), [], '/var/tmp');
  });

  t.test('cloud-init', async (t) => {
    t.same(readdirSync(join(root, 'var/lib/cloud')), [], '/var/lib/cloud (instance, data, seed)');
    t.ok(gone(root, 'var/log/cloud-init.log'));
    t.ok(gone(root, 'var/log/cloud-init-output.log'));
    t.same(
      readdirSync(join(root, 'etc/cloud/cloud.cfg.d')),
      ['05_logging.cfg'],
      'installer leftovers gone, distro config kept',
    );
    t.ok(gone(root, 'etc/cloud/ds-identify.cfg'));
    t.ok(gone(root, 'etc/cloud/cloud-init.disabled'));
    t.ok(existsSync(join(root, 'etc/cloud/cloud.cfg')));
  });

  t.test('Greengrass: installer, claim and CA kept; no device identity, no sentinel', async (t) => {
    const gg = join(root, 'greengrass/v2');
    t.same(readdirSync(gg).sort(), ['AmazonRootCA1.pem', 'claim-certs', 'installer']);
    t.ok(existsSync(join(gg, 'installer/lib/Greengrass.jar')));
    t.ok(existsSync(join(gg, 'installer/config.yaml')));
    t.equal(statSync(join(gg, 'claim-certs')).mode & 0o777, 0o700, 'claim dir forced to 0700');
    for (const f of ['claim.pem.crt', 'claim.private.pem.key']) {
      const s = statSync(join(gg, 'claim-certs', f));
      t.equal(s.mode & 0o777, 0o600, `${f} forced to 0600`);
      t.equal(s.uid, 0);
    }
    t.ok(gone(root, 'etc/systemd/system/greengrass.service'), 'no greengrass.service');
    t.ok(gone(root, 'etc/systemd/system/multi-user.target.wants/greengrass.service'), 'not enabled');
    t.ok(
      isLink(join(root, 'etc/systemd/system/multi-user.target.wants/greengrass-firstboot.service')),
      'the agent stays enabled',
    );
    for (const f of ['provisioned.json', 'state.json', 'config.yaml'])
      t.ok(gone(root, `var/lib/greengrass-firstboot/${f}`), `agent ${f}`);
    t.ok(existsSync(join(root, 'etc/greengrass-firstboot/agent.yaml')));
  });

  t.test('idempotent: sealing a sealed tree succeeds and changes nothing', async (t) => {
    const list = () => run('find', [root, '-printf', '%P %m %s %l\n']).stdout.split('\n').sort().join('\n');
    const before = list();
    const again = run('sh', ['-eu', join(SCRIPTS_DIR, 'seal.sh')], { env: { PATH: process.env.PATH, ROOT: root } });
    t.equal(again.status, 0, again.stderr);
    t.equal(list(), before);
  });
});

t.test('seal.sh on a minimal tree (no ssh, no cloud-init, no Greengrass) does not invent them', async (t) => {
  const dir = tmp('gg-seal-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const root = join(dir, 'root');
  put(root, 'etc/machine-id', `${OLD_ID}\n`);
  const r = run('sh', ['-eu', join(SCRIPTS_DIR, 'seal.sh')], { env: { PATH: process.env.PATH, ROOT: root } });
  t.equal(r.status, 0, r.stderr);
  t.equal(readFileSync(join(root, 'etc/machine-id'), 'utf8'), 'uninitialized\n');
  t.notOk(existsSync(join(root, 'etc/ssh')), 'no /etc/ssh created');
  t.notOk(existsSync(join(root, 'etc/systemd/system/ssh-host-keys.service')), 'no ssh unit without ssh');
  t.notOk(existsSync(join(root, 'greengrass')), 'no /greengrass created');
  t.notOk(existsSync(join(root, 'etc/hostname')), 'no /etc/hostname created');
});
