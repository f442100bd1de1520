// The vsphere-iso source, run by the Packer on PATH (Debian's 1.6.6 here) against vcsim, VMware's vSphere simulator,
// up to the template conversion. vcsim types no keys and reports no guest IP, so the run sets
// vsphere_communicator=none and vsphere_type_boot_command=false and the test powers the VM off from outside, as the
// installer's final power-off would. Everything else is the real template with the builder's own -var arguments
// (vsphereVarArgs) for iso_paths, cd_files and remove_cdrom; govc then checks what a vSphere admin would: a template,
// where it was asked to be, with the hardware configured and the CD-ROM drives as asked.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectPacker, stageTemplates } from '../../builder/src/packer.ts';
import { generateBuildPassword, USER_DATA_DEFAULTS } from '../../builder/src/user-data.ts';
import { prepareOutputDir, vsphereVarArgs } from '../../builder/src/vsphere-options.ts';
import { startVcsim, type Vcsim } from '../../harness/vcsim.ts';

const work = mkdtempSync(join(tmpdir(), 'gg-vsphere-iso-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const packer = detectPacker();
const root = stageTemplates(join(work, 'stage'), packer, undefined, {
  ...USER_DATA_DEFAULTS,
  password: generateBuildPassword(),
});
if (packer.supportsInit) {
  const init = spawnSync(packer.bin, ['init', '.'], { cwd: root, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`packer init (Packer ${packer.version}) failed: ${init.stderr}`);
}
mkdirSync(join(work, 'files'));

/** A small ISO 9660 image standing in for the Ubuntu installer (vcsim boots nothing). */
function fakeInstallerIso(): string {
  mkdirSync(join(work, 'iso-root'));
  writeFileSync(join(work, 'iso-root', 'README'), 'stand-in for ubuntu-22.04.5-live-server-amd64.iso\n');
  const iso = join(work, 'installer.iso');
  const r = spawnSync('genisoimage', ['-quiet', '-J', '-V', 'Ubuntu-Server 22.04', '-o', iso, join(work, 'iso-root')]);
  if (r.status !== 0) throw new Error(`genisoimage failed: ${r.stderr}`);
  return iso;
}
const installerIso = fakeInstallerIso();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Device {
  Name: string;
  Type: string;
  /** FileName: an ISO or disk file; DeviceName: a NIC's network. */
  Backing?: { FileName?: string; DeviceName?: string; ThinProvisioned?: boolean } | null;
  CapacityInKB?: number;
}
const devices = (sim: Vcsim, vm: string) =>
  (JSON.parse(sim.govcOk(['device.info', '-json', '-vm', vm])) as { Devices: Device[] }).Devices;
const vmInfo = (sim: Vcsim, vm: string) =>
  (
    JSON.parse(sim.govcOk(['vm.info', '-json', vm])) as {
      VirtualMachines: {
        Config: { Template: boolean; GuestId: string; Hardware: { NumCPU: number; MemoryMB: number } };
        Runtime: { PowerState: string };
      }[];
    }
  ).VirtualMachines[0];

/**
 * Run `packer build -only=vsphere-iso.ubuntu` with the given -var arguments; once the VM is on, call `whileOn` (the
 * build's view of the running VM), then power it off with govc. Resolves with Packer's exit code and output.
 */
async function buildAgainst(
  sim: Vcsim,
  vmPath: string,
  varArgs: string[],
  whileOn: (vmPath: string) => void,
): Promise<{ code: number | null; output: string; outDir: string }> {
  const vmName = vmPath.split('/').pop()!;
  const outDir = join(work, `out-${vmName}`);
  prepareOutputDir('vsphere', outDir); // as `greengrass-image build` does
  const args = [
    'build',
    '-color=false',
    '-only=vsphere-iso.ubuntu',
    '-var',
    `staging_dir=${join(work, 'files')}`,
    `-var-file=${join(root, 'vsphere.pkrvars.hcl')}`,
    ...['vcenter_server', `${sim.host}:${sim.port}`, 'vsphere_username', sim.username]
      .concat(['vsphere_password', sim.password, 'vsphere_insecure_connection', 'true'])
      .flatMap((v, i, a) => (i % 2 === 0 ? ['-var', `${v}=${a[i + 1]}`] : [])),
    ...['-var', `vm_name=${vmName}`, '-var', `output_directory=${outDir}`],
    ...['-var', 'vsphere_communicator=none', '-var', 'vsphere_type_boot_command=false'],
    ...varArgs,
    '.',
  ];
  const child = spawn(packer.bin, args, {
    cwd: root,
    env: { ...process.env, CHECKPOINT_DISABLE: '1', PACKER_CACHE_DIR: join(work, 'packer_cache') },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const done = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
  let exited = false;
  void done.then(() => (exited = true));
  const end = Date.now() + 180_000;
  for (;;) {
    const r = sim.govc(['vm.info', '-json', vmPath]);
    const on = r.status === 0 && /"PowerState":\s*"poweredOn"/.test(r.stdout);
    if (on) break;
    if (exited || Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`the build VM never powered on (packer exited: ${exited}):\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  try {
    whileOn(vmPath);
  } finally {
    sim.govcOk(['vm.power', '-off', vmPath]);
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await done;
  clearTimeout(timer);
  return { code, output, outDir };
}

/** What an admin checks on any template this source makes: hardware, placement, network, manifest. */
function checkTemplate(t: Test, sim: Vcsim, vmPath: string, outDir: string, hw: { cpus: number; memory: number }) {
  const info = vmInfo(sim, vmPath);
  t.equal(info.Config.Template, true, 'marked as a template');
  t.equal(info.Runtime.PowerState, 'poweredOff', 'powered off');
  t.equal(info.Config.GuestId, 'ubuntu64Guest', 'guest OS Ubuntu 64-bit');
  t.equal(info.Config.Hardware.NumCPU, hw.cpus, 'CPUs');
  t.equal(info.Config.Hardware.MemoryMB, hw.memory, 'memory (MiB)');
  const devs = devices(sim, vmPath);
  t.ok(
    devs.some((d) => d.Type === 'ParaVirtualSCSIController'),
    'a VMware Paravirtual SCSI controller',
  );
  const nics = devs.filter((d) => d.Type === 'VirtualVmxnet3');
  t.equal(nics.length, 1, 'one vmxnet3 NIC');
  t.equal(nics[0]?.Backing?.DeviceName, 'VM Network', 'on the network asked for');
  const manifest = JSON.parse(readFileSync(join(outDir, 'packer-manifest.json'), 'utf8')) as {
    builds: { builder_type: string; artifact_id: string }[];
  };
  t.equal(manifest.builds[0]?.builder_type, 'vsphere-iso', 'packer-manifest.json names the vsphere-iso build');
  return devs;
}

let sim: Vcsim;
t.before(async () => {
  sim = await startVcsim({ args: ['-vm', '0'] });
});
t.teardown(() => sim?.stop());

t.test('datastore ISO (iso_paths), autoinstall from a cidata CD (cd_files), CD-ROMs removed', async (t) => {
  sim.govcOk(['datastore.mkdir', '-ds', 'LocalDS_0', 'iso']);
  sim.govcOk(['datastore.upload', '-ds', 'LocalDS_0', installerIso, 'iso/ubuntu-22.04.5-live-server-amd64.iso']);
  sim.govcOk(['folder.create', '/DC0/vm/golden']);
  const options: Record<string, unknown> = {
    'iso-path': ['[LocalDS_0] iso/ubuntu-22.04.5-live-server-amd64.iso'],
    'remove-cdrom': true,
    'autoinstall-source': 'cd',
  };
  const site = ['vsphere_datacenter=DC0', 'vsphere_cluster=DC0_C0', 'vsphere_datastore=LocalDS_0']
    .concat(['vsphere_folder=golden', 'cpus=3', 'memory=3072', 'disk_size=9216'])
    .flatMap((v) => ['-var', v]);
  let cdLabel = '';
  let userData = '';
  const vm = '/DC0/vm/golden/gg-golden-a';
  const r = await buildAgainst(sim, vm, [...site, ...vsphereVarArgs((k) => options[k], 'vsphere')], () => {
    // While the installer would run: the datastore ISO and Packer's cidata CD are both attached.
    const cds = devices(sim, vm).filter((d) => d.Type === 'VirtualCdrom');
    t.same(
      cds.map((d) => (d.Backing?.FileName ?? '').replace(/packer\d+\.iso/, 'packerN.iso')).sort(),
      ['[LocalDS_0] iso/ubuntu-22.04.5-live-server-amd64.iso', '[LocalDS_0] packer_cache//packerN.iso'],
      'CD-ROMs: the installer ISO from the datastore, and the autoinstall CD Packer uploaded',
    );
    const cd = cds.map((d) => /packer_cache\/+(packer\d+\.iso)/.exec(d.Backing?.FileName ?? '')?.[1]).find(Boolean);
    const local = join(work, 'cidata.iso');
    sim.govcOk(['datastore.download', '-ds', 'LocalDS_0', `packer_cache/${cd}`, local]);
    cdLabel = /Volume id: (.*)/.exec(spawnSync('isoinfo', ['-d', '-i', local], { encoding: 'utf8' }).stdout)?.[1] ?? '';
    userData = spawnSync('isoinfo', ['-J', '-x', '/user-data', '-i', local], { encoding: 'utf8' }).stdout;
  });
  if (!t.equal(r.code, 0, 'packer build exits 0')) t.comment(r.output);
  t.equal(cdLabel, 'cidata', "the autoinstall CD's volume label is cidata (cloud-init NoCloud)");
  t.equal(userData, readFileSync(join(root, 'http', 'user-data'), 'utf8'), 'it carries the rendered http/user-data');
  t.match(r.output, /Deleting CD-ROM drives/);

  const devs = checkTemplate(t, sim, vm, r.outDir, { cpus: 3, memory: 3072 });
  t.same(
    devs.filter((d) => d.Type === 'VirtualCdrom'),
    [],
    'no CD-ROM drive left (remove_cdrom)',
  );
  const disks = devs.filter((d) => d.Type === 'VirtualDisk');
  t.equal(disks.length, 1, 'one disk');
  t.equal(disks[0]?.CapacityInKB, 9216 * 1024, 'disk_size 9216 MiB');
  t.equal(disks[0]?.Backing?.ThinProvisioned, true, 'thin provisioned');
  const hosts = sim.govcOk(['find', '-i', '/DC0/host/DC0_C0', '-type', 'h']).trim().split('\n');
  const host = sim.govcOk(['object.collect', '-s', vm, 'runtime.host']).trim();
  t.ok(hosts.includes(host), `on a host of cluster DC0_C0 (${host})`);
  t.match(sim.govcOk(['object.collect', '-s', vm, 'config.files.vmPathName']), /^\[LocalDS_0\] /, 'on LocalDS_0');
  t.notMatch(r.output, /Retrieving ISO/, 'no ISO downloaded or uploaded (iso_paths)');
});

t.test('ISO from iso_url uploaded to the datastore, HTTP autoinstall, CD-ROM kept and ejected', async (t) => {
  const site = ['vsphere_datacenter=DC0', 'vsphere_host=DC0_H0', 'vsphere_datastore=LocalDS_0']
    .concat([`iso_url=${installerIso}`, `iso_checksum=sha256:${sha256(readFileSync(installerIso))}`])
    .flatMap((v) => ['-var', v]);
  let uploaded = '';
  const vm = '/DC0/vm/gg-golden-b';
  const r = await buildAgainst(sim, vm, site, () => {
    const cds = devices(sim, vm).filter((d) => d.Type === 'VirtualCdrom');
    t.equal(cds.length, 1, 'one CD-ROM while building (no cidata CD)');
    const path = /^\[LocalDS_0\] (packer_cache\/.*\.iso)$/.exec(cds[0]?.Backing?.FileName ?? '')?.[1];
    t.ok(path, `the ISO Packer uploaded to LocalDS_0 (${cds[0]?.Backing?.FileName})`);
    const local = join(work, 'uploaded.iso');
    sim.govcOk(['datastore.download', '-ds', 'LocalDS_0', path!, local]);
    uploaded = sha256(readFileSync(local));
  });
  if (!t.equal(r.code, 0, 'packer build exits 0')) t.comment(r.output);
  t.equal(uploaded, sha256(readFileSync(installerIso)), 'the datastore copy is the ISO given by iso_url');
  t.match(r.output, /Starting HTTP server/, "Packer's HTTP server serves the autoinstall data");
  const devs = checkTemplate(t, sim, vm, r.outDir, { cpus: 2, memory: 2048 });
  const cds = devs.filter((d) => d.Type === 'VirtualCdrom');
  t.equal(cds.length, 1, 'the CD-ROM drive is kept (remove_cdrom false: the OVF ISO transport needs one)');
  t.notMatch(
    cds[0]?.Backing?.FileName ?? '',
    /\.iso/,
    `and ejected: no ISO in it (${JSON.stringify(cds[0]?.Backing)})`,
  );
  const host = sim.govcOk(['object.collect', '-s', vm, 'runtime.host']).trim();
  t.equal(host, hostRef('/DC0/host/DC0_H0/DC0_H0'), 'on the standalone host DC0_H0 (vsphere_host)');
});

function hostRef(path: string): string {
  return sim.govcOk(['find', '-i', path, '-type', 'h']).trim();
}
