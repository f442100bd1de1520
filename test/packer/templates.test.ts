// The Packer templates as Debian's Packer 1.6.6 sees them: syntax, full validation of every source
// with the builder's own command line, formatting, and the static autoinstall files.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PACKER_DIR, TARGETS, run, tmp, stagePackerRoot, writeSiteVars } from './packer-env.ts';

const version = run('packer', ['version']);
t.ok(version.status === 0, `packer is installed (${version.stdout.trim()})`);

t.test('layout: bento split, one pkrvars per target, the user-data template', async (t) => {
  for (const f of [
    'plugins.pkr.hcl',
    'variables.pkr.hcl',
    'sources.pkr.hcl',
    'build.pkr.hcl',
    'user-data.mustache',
    'http/meta-data',
  ]) {
    t.ok(existsSync(join(PACKER_DIR, f)), f);
  }
  for (const target of Object.keys(TARGETS))
    t.ok(existsSync(join(PACKER_DIR, `${target}.pkrvars.hcl`)), `${target}.pkrvars.hcl`);
  const plugins = readFileSync(join(PACKER_DIR, 'plugins.pkr.hcl'), 'utf8').replace(/^\s*(#|\/\/).*$/gm, '');
  t.match(
    plugins.trim(),
    /^packer \{[\s\S]*required_plugins \{[\s\S]*\}\s*\}$/,
    'plugins.pkr.hcl holds only the packer {} block',
  );
  for (const p of ['vsphere', 'vmware', 'virtualbox', 'qemu'])
    t.match(plugins, new RegExp(`${p} = \\{`), `requires the ${p} plugin`);
  for (const f of ['variables.pkr.hcl', 'sources.pkr.hcl', 'build.pkr.hcl']) {
    const text = readFileSync(join(PACKER_DIR, f), 'utf8').replace(/^\s*(#|\/\/).*$/gm, '');
    t.notMatch(text, /^\s*(packer|data)\s/m, `${f}: no packer {} or data blocks (Packer 1.6.6)`);
    t.notMatch(text, /templatefile\(|http_content|iso_checksum_type|\bregex\(/, `${f}: nothing 1.6.6 lacks`);
  }
});

t.test('packer validate -syntax-only (1.6.6 layout)', async (t) => {
  const dir = tmp('gg-pkr-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const root = stagePackerRoot(dir);
  const r = run('packer', ['validate', '-syntax-only', '.'], { cwd: root });
  t.equal(r.status, 0, r.stdout + r.stderr);
});

t.test('plugins.pkr.hcl is what Packer 1.6.6 cannot read (so the builder leaves it out)', async (t) => {
  const dir = tmp('gg-pkr-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const root = stagePackerRoot(dir, { withPlugins: true });
  const r = run('packer', ['validate', '-syntax-only', '.'], { cwd: root });
  if (/^Packer v1\.6\./.test(version.stdout)) {
    t.not(r.status, 0, 'rejected by 1.6.6');
    t.match(r.stdout + r.stderr, /required_plugins|Unsupported block type|not expected/);
  } else {
    t.equal(r.status, 0, `accepted by ${version.stdout.trim()}`);
  }
});

/** The templates staged as the builder stages them, a staging dir for the files, and a site var file. */
function stagedWithSite(t: Test) {
  const dir = tmp('gg-pkr-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const root = stagePackerRoot(dir);
  const files = join(dir, 'files');
  mkdirSync(files, { mode: 0o700 });
  return { dir, root, files, site: writeSiteVars(dir) };
}

for (const [target, only] of Object.entries(TARGETS)) {
  t.test(`packer validate -only=${only} with ${target}.pkrvars.hcl (the builder's command line)`, async (t) => {
    const { dir, root, files, site } = stagedWithSite(t);
    const args = [
      'validate',
      `-only=${only}`,
      '-var',
      `staging_dir=${files}`,
      `-var-file=${target}.pkrvars.hcl`,
      `-var-file=${site}`,
      '-var',
      `output_directory=${join(dir, 'out')}`,
      '.',
    ];
    const r = run('packer', args, { cwd: root });
    t.equal(r.status, 0, r.stdout + r.stderr);
  });
}

t.test('qemu: qemu_serial_log gives the guest a serial console file; without it, no -serial', async (t) => {
  // A stand-in qemu binary records the command line Packer starts it with, then fails the build.
  const { dir, root, files, site } = stagedWithSite(t);
  const qemu = join(dir, 'qemu-standin');
  writeFileSync(
    qemu,
    '#!/bin/sh\ncase "$*" in *-version*) echo "QEMU emulator version 7.2.0"; exit 0;; esac\n' +
      'printf \'%s\\n\' "$@" > "$QEMU_ARGS_FILE"\nexit 1\n',
    { mode: 0o755 },
  );
  const qemuArgs = (extra: string[], out: string) => {
    const argsFile = join(dir, `${out}.args`);
    const r = run(
      'packer',
      [
        'build',
        '-only=qemu.ubuntu',
        '-var',
        `staging_dir=${files}`,
        '-var-file=qemu.pkrvars.hcl',
        `-var-file=${site}`,
        '-var',
        `qemu_binary=${qemu}`,
        '-var',
        `output_directory=${join(dir, out)}`,
        ...extra,
        '.',
      ],
      { cwd: root, env: { ...process.env, QEMU_ARGS_FILE: argsFile } },
    );
    t.not(r.status, 0, 'the stand-in qemu ends the build');
    return existsSync(argsFile) ? readFileSync(argsFile, 'utf8').split('\n') : [];
  };
  const log = join(dir, 'bake-serial.log');
  const withLog = qemuArgs(['-var', `qemu_serial_log=${log}`], 'out-a');
  t.equal(withLog[withLog.indexOf('-serial') + 1], `file:${log}`, '-serial file:<qemu_serial_log>');
  t.ok(withLog.includes('-kernel'), 'the direct kernel boot arguments stay');
  const without = qemuArgs([], 'out-b');
  t.ok(without.includes('-kernel'), 'qemu started');
  t.notOk(without.includes('-serial'), 'no serial console file by default');
});

t.test('packer inspect shows the site password as <sensitive>, never its value', async (t) => {
  const dir = tmp('gg-pkr-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const root = stagePackerRoot(dir);
  const site = writeSiteVars(dir);
  const r = run('packer', ['inspect', `-var-file=${site}`, '.'], { cwd: root });
  t.equal(r.status, 0, r.stdout + r.stderr);
  t.match(r.stdout, /var\.vsphere_password: "<sensitive>"/);
  t.notMatch(r.stdout + r.stderr, /not-a-real-password/, 'the value set in the var file is not printed');
});

t.test('paths resolve from the template dir (path.root), and validate checks that the scripts exist', async (t) => {
  const dir = tmp('gg-pkr-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const root = stagePackerRoot(dir);
  const site = writeSiteVars(dir);
  const args = [
    'validate',
    '-only=qemu.ubuntu',
    '-var',
    `staging_dir=${dir}`,
    `-var-file=${join(root, 'qemu.pkrvars.hcl')}`,
    `-var-file=${site}`,
  ];
  let r = run('packer', [...args, 'packer'], { cwd: dir });
  t.equal(r.status, 0, `run from the parent dir: ${r.stdout}${r.stderr}`);
  run('rm', [join(root, 'scripts/seal.sh')]);
  r = run('packer', [...args, '.'], { cwd: root });
  t.not(r.status, 0, 'a missing script fails validation');
  t.match(r.stdout + r.stderr, /seal\.sh/);
});

t.test('validate fails with a clear error on bad input', async (t) => {
  const dir = tmp('gg-pkr-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const root = stagePackerRoot(dir);
  const site = writeSiteVars(dir);
  const base = ['validate', '-only=qemu.ubuntu', '-var-file=qemu.pkrvars.hcl', `-var-file=${site}`];

  let r = run('packer', [...base, '-var', 'staging_dir=relative/files', '.'], { cwd: root });
  t.not(r.status, 0, 'relative staging_dir');
  t.match(r.stdout + r.stderr, /staging_dir variable must be an absolute path/);

  r = run('packer', [...base, '.'], { cwd: root });
  t.not(r.status, 0, 'staging_dir missing');
  t.match(r.stdout + r.stderr, /staging_dir/);

  r = run('packer', [...base, '-var', `staging_dir=${dir}`, '-var', 'ggc_user=Bad User', '.'], { cwd: root });
  t.not(r.status, 0, 'bad ggc_user');
  t.match(r.stdout + r.stderr, /ggc_user variable must be a valid POSIX user name/);

  r = run(
    'packer',
    [
      'validate',
      '-only=vsphere-iso.ubuntu',
      '-var-file=vsphere.pkrvars.hcl',
      '-var',
      `staging_dir=${dir}`,
      '-var',
      'iso_checksum=none',
      '.',
    ],
    { cwd: root },
  );
  t.not(r.status, 0, 'vsphere without checksum or vCenter');
  t.match(r.stdout + r.stderr, /iso_checksum variable must be/);

  r = run(
    'packer',
    ['validate', '-only=vsphere-iso.ubuntu', '-var-file=vsphere.pkrvars.hcl', '-var', `staging_dir=${dir}`, '.'],
    { cwd: root },
  );
  t.not(r.status, 0, 'vsphere without the site var-file');
  t.match(r.stdout + r.stderr, /'vcenter_server' is required/);

  r = run(
    'packer',
    ['validate', '-only=qemu.ubuntu', '-var-file=qemu.pkrvars.hcl', '-var', `staging_dir=${dir}`, '.'],
    { cwd: root },
  );
  t.not(r.status, 0, 'qemu without a disk image');
  t.match(r.stdout + r.stderr, /iso_url/);
});

t.test('packer fmt -check: the templates are canonical, and the check does catch drift', async (t) => {
  const r = run('packer', ['fmt', '-check', '.'], { cwd: PACKER_DIR });
  t.equal(r.status, 0, `needs formatting: ${r.stdout}${r.stderr}`);
  const dir = tmp('gg-pkr-');
  t.teardown(() => run('rm', ['-rf', dir]));
  const root = stagePackerRoot(dir);
  const vars = join(root, 'qemu.pkrvars.hcl');
  writeFileSync(vars, readFileSync(vars, 'utf8').replace('cpus             = 2', 'cpus=2'));
  const bad = run('packer', ['fmt', '-check', '.'], { cwd: root });
  t.not(bad.status, 0);
  t.match(bad.stdout, /qemu\.pkrvars\.hcl/);
});

t.test('http/: NoCloud autoinstall for Ubuntu 22.04 (user-data rendered at staging)', async (t) => {
  const text = readFileSync(join(PACKER_DIR, 'user-data.mustache'), 'utf8');
  t.match(text, /^#cloud-config\n/, 'starts with #cloud-config');
  t.notOk(existsSync(join(PACKER_DIR, 'http/user-data')), 'no static user-data beside the template');
  t.equal(statSync(join(PACKER_DIR, 'http/meta-data')).size, 0, 'meta-data exists and is empty (NoCloud needs it)');
});

t.test(
  'boot command: autoinstall args before "---" (not copied to the installed system), from HTTP or CD',
  async (t) => {
    const dir = tmp('gg-pkr-');
    t.teardown(() => run('rm', ['-rf', dir]));
    const root = stagePackerRoot(dir);
    // The kernel line as Packer evaluates it (`packer console`, one expression per run in 1.6.6).
    const kernelLine = (vars: string[]) =>
      spawnSync('packer', ['console', '-var', 'staging_dir=/stage', ...vars, '.'], {
        cwd: root,
        input: 'local.ubuntu_boot_command[1]\n',
        encoding: 'utf8',
      }).stdout.trim();
    t.equal(
      kernelLine([]),
      'linux /casper/vmlinuz autoinstall ds=nocloud-net\\;s=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ ---<enter><wait>',
      "default: NoCloud over HTTP from Packer's server",
    );
    t.equal(
      kernelLine(['-var', 'autoinstall_source=cd']),
      'linux /casper/vmlinuz autoinstall ds=nocloud ---<enter><wait>',
      'autoinstall_source=cd: NoCloud finds the cidata CD by its label',
    );
  },
);

t.test('build: upload to /tmp/gg-stage, scripts in order, seal last, manifest in output_directory', async (t) => {
  const build = readFileSync(join(PACKER_DIR, 'build.pkr.hcl'), 'utf8');
  t.match(build, /source\s+=\s+"\$\{var\.staging_dir\}\/"\s+destination = "\/tmp\/gg-stage"/);
  const order = [...build.matchAll(/"\$\{path\.root\}\/scripts\/([a-z-]+\.sh)"/g)].map((m) => m[1]);
  t.same(order, [
    'packages.sh',
    'ggc-user.sh',
    'greengrass-layout.sh',
    'claim-certs.sh',
    'agent.sh',
    'cleanup-stage.sh',
    'seal.sh',
  ]);
  t.match(build, /output\s+= "\$\{var\.output_directory\}\/packer-manifest\.json"/);
  const vars = readFileSync(join(PACKER_DIR, 'variables.pkr.hcl'), 'utf8');
  for (const v of ['ssh_password', 'vsphere_password']) {
    t.match(vars, new RegExp(`variable "${v}" \\{[^}]*sensitive\\s*=\\s*true`), `${v} is sensitive`);
  }
});
