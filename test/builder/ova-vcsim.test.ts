// The OVA imported by VMware's own code: govc (import.spec, import.ova) into vcsim, the vSphere simulator, both
// built from Debian's govmomi source by scripts/setup.sh. govc reads the descriptor and asks for the `thing-name`
// property; the VM it creates has the declared hardware, powers on, and carries the value given at deploy time.
// vcsim 0.24 keeps deploy-time property values in the VM's ExtraConfig (a real vCenter keeps them in the vApp
// config and hands them to the guest as guestinfo.ovfEnv), so that is where the value is read back.
// govc 0.24 does not check the manifest: builder/src/ova/verify.ts does (test/builder/ova.test.ts).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportOva } from '../../builder/src/ova/package.ts';
import { startVcsim } from '../../harness/vcsim.ts';

interface VmInfo {
  VirtualMachines: {
    Config: {
      GuestId: string;
      Version: string;
      Firmware: string;
      Hardware: { NumCPU: number; MemoryMB: number };
      ExtraConfig: { Key: string; Value: string }[] | null;
    };
    Runtime: { PowerState: string };
  }[];
}

t.test('govc import.ova into vcsim: the thing-name property, the hardware, power on', async (t) => {
  const dir = t.testdir({});
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  writeFileSync(join(tree, 'data.bin'), randomBytes(1 << 20));
  execFileSync('truncate', ['-s', '64M', join(dir, 'disk.raw')]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, join(dir, 'disk.raw')]);
  execFileSync('qemu-img', ['convert', '-O', 'qcow2', join(dir, 'disk.raw'), join(dir, 'greengrass-golden.qcow2')]);
  const ova = join(dir, 'greengrass-golden.ova');
  await exportOva(join(dir, 'greengrass-golden.qcow2'), ova);

  const sim = await startVcsim();
  t.teardown(() => sim.stop());

  const spec = JSON.parse(sim.govcOk(['import.spec', ova])) as {
    PropertyMapping: { Key: string; Value: string }[];
    NetworkMapping: { Name: string }[];
  };
  t.same(spec.PropertyMapping, [{ Key: 'thing-name', Value: '' }], 'govc asks for thing-name, empty by default');
  t.same(
    spec.NetworkMapping.map((n) => n.Name),
    ['VM Network'],
  );

  const options = join(dir, 'options.json');
  writeFileSync(
    options,
    JSON.stringify({
      Name: 'branch-042-vm',
      DiskProvisioning: 'thin',
      PropertyMapping: [{ Key: 'thing-name', Value: 'branch-042' }],
      NetworkMapping: [{ Name: 'VM Network', Network: 'VM Network' }],
      PowerOn: false,
    }),
  );
  sim.govcOk(['import.ova', '-options', options, '-pool', '/DC0/host/DC0_C0/Resources', '-ds', 'LocalDS_0', ova]);
  sim.govcOk(['vm.power', '-on', 'branch-042-vm']);

  const vm = (JSON.parse(sim.govcOk(['vm.info', '-json', '-e', 'branch-042-vm'])) as VmInfo).VirtualMachines[0]!;
  t.equal(vm.Runtime.PowerState, 'poweredOn');
  t.equal(vm.Config.GuestId, 'ubuntu64Guest');
  t.equal(vm.Config.Version, 'vmx-14');
  t.equal(vm.Config.Firmware, 'bios');
  t.equal(vm.Config.Hardware.NumCPU, 2);
  t.equal(vm.Config.Hardware.MemoryMB, 2048);
  t.equal(
    vm.Config.ExtraConfig?.find((e) => e.Key === 'thing-name')?.Value,
    'branch-042',
    'the deploy-time ThingName reached the VM',
  );
  const devices = sim.govcOk(['device.ls', '-vm', 'branch-042-vm']);
  t.match(devices, /ParaVirtualSCSIController/, 'paravirtual SCSI controller');
  t.match(devices, /VirtualDisk\s+65,536 KB/, 'the 64 MiB disk');
  t.match(devices, /VirtualVmxnet3\s+VM Network/, 'vmxnet3 NIC on VM Network');
  t.match(devices, /VirtualCdrom/, "a CD-ROM drive for the OVF environment's ISO transport");
});
