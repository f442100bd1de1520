// The vSphere build options (--iso-path, --remove-cdrom, --autoinstall-source, --cd-file, --cd-label): refused by
// name with another target or in a bad form, before anything is staged; and the -var arguments they become are read
// back by the Packer on PATH (`packer console`) as the values given, however the paths are spelled.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, UsageError } from '../../common/errors.ts';
import { detectPacker, stageTemplates } from '../../builder/src/packer.ts';
import { vsphereVarArgs } from '../../builder/src/vsphere-options.ts';
import { BUILD_SETTINGS } from '../../builder/src/commands/build/index.ts';
import { loadSettings, pick } from '../../builder/src/settings.ts';
import { runCli } from './helpers.ts';

const work = mkdtempSync(join(tmpdir(), 'gg-vsphere-opts-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const args = (o: Record<string, unknown>, target = 'vsphere') => vsphereVarArgs((k) => o[k], target);

t.test('none given: no -var, the template defaults apply', async (t) => {
  t.same(args({}), []);
  t.same(args({}, 'qemu'), []);
});

t.test('refusals: usage errors naming the option', async (t) => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ 'iso-path': ['[ds] a.iso'], 'remove-cdrom': true }, 'qemu', /--iso-path, --remove-cdrom: vSphere only/],
    [{ 'autoinstall-source': 'cd' }, 'vmware', /--autoinstall-source: vSphere only \(target is vmware\)/],
    [{ 'iso-path': 'ubuntu.iso' }, 'vsphere', /--iso-path "ubuntu.iso": expected a datastore path/],
    [{ 'autoinstall-source': 'ftp' }, 'vsphere', /--autoinstall-source "ftp": use http or cd/],
    [{ 'cd-label': 'cidata' }, 'vsphere', /--cd-file and --cd-label need --autoinstall-source cd/],
    [{ 'autoinstall-source': 'cd', 'cd-file': join(work, 'nope') }, 'vsphere', /--cd-file .*nope is not a file/],
    [{ 'autoinstall-source': 'cd', 'cd-label': 'ci data' }, 'vsphere', /--cd-label "ci data": 1-32 letters/],
  ];
  for (const [o, target, msg] of cases) {
    t.throws(() => args(o, target), msg, JSON.stringify(o));
    t.throws(() => args(o, target), UsageError);
  }
});

t.test('a --settings file takes the same keys (kebab or camel case); flags win', async (t) => {
  const file = join(work, 'settings.yaml');
  writeFileSync(file, 'iso-path:\n  - "[ds1] iso/u.iso"\nremoveCdrom: true\nautoinstall-source: http\n');
  const settings = loadSettings(file, BUILD_SETTINGS);
  const argv: Record<string, unknown> = { autoinstallSource: 'cd' };
  t.same(
    vsphereVarArgs((k) => pick(argv, settings, k), 'vsphere'),
    [
      ...['-var', 'vsphere_iso_paths=["[ds1] iso/u.iso"]', '-var', 'vsphere_remove_cdrom=true'],
      ...['-var', 'autoinstall_source=cd'],
    ],
  );
  writeFileSync(file, 'remove-cdrom: "yes"\n');
  t.throws(() => loadSettings(file, BUILD_SETTINGS), /remove-cdrom must be true or false/);
});

t.test('build --target qemu --iso-path: exit 2 before anything else', async (t) => {
  const r = await runCli(['build', '--target', 'qemu', '--env', 'dev', '--iso-path', '[ds1] iso/u.iso'], {
    ...process.env,
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  });
  t.equal(r.code, ExitCode.USAGE, r.stderr);
  t.match(r.stderr, /--iso-path: vSphere only \(target is qemu\)/);
});

t.test('the -var arguments read back by Packer as given', async (t) => {
  const packer = detectPacker();
  const root = stageTemplates(join(work, 'stage'), packer);
  const extra = join(work, 'vendor-data');
  writeFileSync(extra, '#cloud-config\n');
  const odd = '[datastore 1] iso/${x} %{y} "q" \\ ubuntu.iso';
  const a = args({
    'iso-path': ['[LocalDS_0] iso/ubuntu-22.04.5-live-server-amd64.iso', odd],
    'remove-cdrom': true,
    'autoinstall-source': 'cd',
    'cd-file': [extra],
    'cd-label': 'CIDATA',
  });
  const expr = [
    'var.vsphere_iso_paths',
    'var.vsphere_remove_cdrom',
    'var.autoinstall_source',
    'var.vsphere_cd_files',
    'var.vsphere_cd_label',
  ].map((v) => `jsonencode(${v})`);
  // Packer 1.6.6's console evaluates one expression per run.
  const values = expr.map((e) => {
    const r = spawnSync(packer.bin, ['console', '-var', 'staging_dir=/stage', ...a, '.'], {
      cwd: root,
      input: `${e}\n`,
      encoding: 'utf8',
      env: { ...process.env, CHECKPOINT_DISABLE: '1' },
    });
    t.equal(r.status, 0, `${e}: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  });
  t.same(values, [['[LocalDS_0] iso/ubuntu-22.04.5-live-server-amd64.iso', odd], true, 'cd', [extra], 'CIDATA']);
});
