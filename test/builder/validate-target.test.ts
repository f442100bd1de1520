// validate --target: a site var file that sets one platform's variables (here vSphere only) validates for that
// platform, where validating all four sources fails on the others (qemu: no iso_url). Real Packer (Debian's 1.6.6).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../common/errors.ts';
import { ca, cliEnv, runCli, startAwsStandin, tmp, type AwsStandin } from './helpers.ts';

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

/** A site file as a vSphere user writes it: the vCenter variables and nothing for the other platforms. */
function vsphereSite(): string {
  const file = join(tmp('gg-validate-target-'), 'site.pkrvars.hcl');
  writeFileSync(
    file,
    [
      'vcenter_server',
      'vsphere_username',
      'vsphere_password',
      'vsphere_datacenter',
      'vsphere_cluster',
      'vsphere_datastore',
    ]
      .map((k) => `${k} = "${k}-value"\n`)
      .join(''),
  );
  return file;
}

t.test('validate --target vsphere with a vSphere-only site file validates that source only', async (t) => {
  const site = vsphereSite();
  const all = await runCli(['validate', '--var-file', site], cliEnv(s));
  t.equal(all.code, ExitCode.CONFIG, 'all four sources: the qemu one lacks its ISO');
  t.match(all.stdout, /FAIL packer validate qemu\.ubuntu \(site vars\): .*iso_url/);

  const one = await runCli(['validate', '--var-file', site, '--target', 'vsphere', '--json'], cliEnv(s));
  t.equal(one.code, 0, one.stderr);
  const out = JSON.parse(one.stdout) as { ok: boolean; checks: Check[] };
  t.equal(out.ok, true);
  const validated = out.checks.map((c) => /^packer validate (\S+)/.exec(c.name)?.[1]).filter(Boolean);
  t.same(validated, ['vsphere-iso.ubuntu'], 'only the vSphere source is validated');
  t.ok(
    out.checks.some((c) => c.name === 'packer fmt -check' && c.ok),
    'the other checks still run',
  );
  t.equal(s.requests.length, 0, 'no AWS calls');
});

t.test('validate --target with an unknown target is a usage error before Packer is looked for', async (t) => {
  const r = await runCli(['validate', '--target', 'hyperv', '--packer', '/nonexistent/packer'], cliEnv(s));
  t.equal(r.code, ExitCode.USAGE, r.stderr);
  t.match(r.stderr, 'error: unknown target "hyperv": use one of vsphere, vmware, virtualbox, qemu');
  t.notMatch(r.stderr, /internal error|packer not found/);
});

t.test(
  'a missing --var-file: the same config error (exit 3) from validate as from build, before Packer runs',
  async (t) => {
    const missing = join(tmp('gg-validate-varfile-'), 'site.pkrvars.hcl');
    for (const args of [
      ['validate', '--var-file', missing],
      ['build', '--target', 'qemu', '--env', 'dev', '--var-file', missing],
    ]) {
      const r = await runCli(args, cliEnv(s));
      t.equal(r.code, ExitCode.CONFIG, `${args[0]}: exit 3 (${r.stderr.trim()})`);
      t.match(r.stderr, new RegExp(`error: --var-file ${missing} does not exist`));
      t.notMatch(r.stderr, /checked packer|staging in/, `${args[0]}: nothing run or staged`);
    }
  },
);
