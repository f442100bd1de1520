// `greengrass-image build --target vsphere` from start to end against vcsim: the builder stages everything (claim from
// the AWS stand-in, nucleus, plugin, root CA), runs the Packer on PATH with the vSphere options given as flags
// (--iso-path, --autoinstall-source cd, --remove-cdrom), and writes its manifest beside packer-manifest.json. The
// VM is powered off from outside (vcsim boots nothing), so the agent never runs: a copy of coreutils' `true`, which
// answers --version as the builder asks, stands in for it.
import t from 'tap';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ExitCode } from '../../common/errors.ts';
import { startVcsim, type Vcsim } from '../../harness/vcsim.ts';
import {
  ca,
  cliEnv,
  makePluginJar,
  seedClaim,
  startAwsStandin,
  startCli,
  tmp,
  type AwsStandin,
} from '../builder/helpers.ts';

const work = tmp('gg-build-vsphere-');
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
mkdirSync(join(work, 'nz', 'lib'), { recursive: true });
writeFileSync(join(work, 'nz', 'lib', 'Greengrass.jar'), 'stand-in nucleus jar');
const nucleusZip = join(work, 'greengrass-2.16.0-standin.zip');
execFileSync('zip', ['-q', '-r', nucleusZip, 'lib'], { cwd: join(work, 'nz') });
const pluginJar = makePluginJar(work);
const rootCa = join(work, 'root-ca.pem');
writeFileSync(rootCa, ca.certificatePem);
const agent = join(work, 'greengrass-firstboot');
copyFileSync('/usr/bin/true', agent);
mkdirSync(join(work, 'iso-root'));
writeFileSync(join(work, 'iso-root', 'README'), 'stand-in installer\n');
const iso = join(work, 'installer.iso');
execFileSync('genisoimage', ['-quiet', '-o', iso, join(work, 'iso-root')]);

let s: AwsStandin;
let sim: Vcsim;
t.before(async () => {
  s = await startAwsStandin({
    ca,
    endpoints: { region: 'eu-west-1', iotDataEndpoint: '10.0.2.2', iotCredEndpoint: '10.0.2.2' },
  });
  await seedClaim(s, 'dev');
  sim = await startVcsim({ args: ['-vm', '0'] });
});
t.teardown(async () => {
  await sim?.stop();
  s?.close();
});

t.test('build --target vsphere: exit 0, a template without CD-ROM, both manifests', async (t) => {
  sim.govcOk(['datastore.upload', '-ds', 'LocalDS_0', iso, 'iso/ubuntu.iso']);
  const site = join(work, 'site.pkrvars.hcl');
  writeFileSync(
    site,
    [
      `vcenter_server              = "${sim.host}:${sim.port}"`,
      `vsphere_username            = "${sim.username}"`,
      `vsphere_password            = "${sim.password}"`,
      'vsphere_insecure_connection = true',
      'vsphere_datacenter          = "DC0"',
      'vsphere_cluster             = "DC0_C0"',
      'vsphere_datastore           = "LocalDS_0"',
      // vcsim types no keys and reports no guest IP (docs/facts/vsphere.md).
      'vsphere_communicator        = "none"',
      'vsphere_type_boot_command   = false',
      '',
    ].join('\n'),
  );
  const outDir = join(work, 'out');
  const args = ['build', '--target', 'vsphere', '--env', 'dev', '--agent-exe', agent]
    .concat(['--nucleus-source', nucleusZip, '--nucleus-sha256', sha(readFileSync(nucleusZip))])
    .concat(['--plugin-source', pluginJar, '--plugin-sha256', sha(readFileSync(pluginJar))])
    .concat(['--root-ca', rootCa, '--output-dir', outDir, '--cache-dir', join(work, 'cache')])
    .concat(['--var-file', site, '--image-name', 'gg-built'])
    .concat(['--iso-path', '[LocalDS_0] iso/ubuntu.iso', '--autoinstall-source', 'cd', '--remove-cdrom']);
  const cli = startCli(args, cliEnv(s, { TMPDIR: work, AWS_EC2_METADATA_DISABLED: 'true' }));
  let exited = false;
  void cli.done.then(() => (exited = true));
  const vm = '/DC0/vm/gg-built';
  const end = Date.now() + 240_000;
  while (!/"PowerState":\s*"poweredOn"/.test(sim.govc(['vm.info', '-json', vm]).stdout)) {
    if (exited || Date.now() > end) {
      cli.child.kill('SIGKILL');
      t.fail(`the build VM never powered on:\n${cli.stderrSoFar().slice(-3000)}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  sim.govcOk(['vm.power', '-off', vm]);
  const r = await cli.done;
  if (!t.equal(r.code, ExitCode.OK, 'greengrass-image build exits 0')) t.comment(r.stderr.slice(-4000));
  t.match(r.stderr, /packer \| .*Deleting CD-ROM drives/);
  t.match(r.stderr, /packer \| .*Convert VM into template/);

  const info = JSON.parse(sim.govcOk(['vm.info', '-json', vm])) as {
    VirtualMachines: { Config: { Template: boolean } }[];
  };
  t.equal(info.VirtualMachines[0]?.Config.Template, true, 'a template');
  t.notMatch(sim.govcOk(['device.ls', '-vm', vm]), /VirtualCdrom/, 'no CD-ROM drive (--remove-cdrom)');
  const packerManifest = JSON.parse(readFileSync(join(outDir, 'packer-manifest.json'), 'utf8')) as {
    builds: { builder_type: string; artifact_id: string }[];
  };
  t.equal(packerManifest.builds[0]?.artifact_id, 'gg-built', 'packer-manifest.json names the template');
  const manifest = JSON.parse(readFileSync(join(outDir, 'greengrass-image-manifest.json'), 'utf8')) as {
    imageName: string;
  };
  t.equal(manifest.imageName, 'gg-built', "the builder's manifest names the template (--image-name)");
});
