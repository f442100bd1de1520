// The OVA of a small disk (a 64 MiB ext4 filesystem made here with mkfs.ext4 -d, as qcow2): the descriptor read back
// with the XML library, the tar read with GNU tar, the digests recomputed with sha256sum, the disk read by qemu-img;
// and OVAs an importer must refuse (re-packed here with GNU tar) are refused by the project's own check.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDescriptor, thingNameRules } from '../../builder/src/ova/descriptor.ts';
import { parseDescriptor } from '../../builder/src/ova/descriptor-read.ts';
import { exportOva } from '../../builder/src/ova/package.ts';
import { verifyOva } from '../../builder/src/ova/verify.ts';
import { BUILTIN_DENY, THING_NAME_MAX } from '../../common/thing-name.ts';

const sh = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8' });

/** A 64 MiB ext4 disk with some incompressible and some compressible content, as qcow2. */
function smallDisk(dir: string): string {
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  writeFileSync(join(tree, 'random.bin'), randomBytes(4 << 20));
  writeFileSync(join(tree, 'text.txt'), 'greengrass\n'.repeat(100_000));
  sh('truncate', ['-s', '64M', join(dir, 'disk.raw')]);
  sh('mkfs.ext4', ['-q', '-F', '-d', tree, join(dir, 'disk.raw')]);
  sh('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', join(dir, 'disk.raw'), join(dir, 'golden.qcow2')]);
  return join(dir, 'golden.qcow2');
}

t.test('descriptor: what an importer reads back', async (t) => {
  const xml = buildDescriptor({
    name: 'golden',
    disk: { href: 'golden-disk1.vmdk', fileSize: 1234, capacityBytes: 64 << 20, populatedBytes: 4 << 20 },
    cpus: 2,
    memoryMiB: 2048,
    firmware: 'bios',
    product: { name: 'Greengrass <golden> & "image"', version: '1.0', vendor: 'ACME' },
  });
  const d = parseDescriptor(xml);
  t.equal(d.envelopeNamespace, 'http://schemas.dmtf.org/ovf/envelope/1', 'OVF 1.0 envelope');
  t.equal(d.hardwareVersion, 'vmx-14', 'hardware version 14 (ESXi 6.7 and later)');
  t.equal(d.osType, 'ubuntu64Guest');
  t.equal(d.osId, '94', 'CIM "Ubuntu 64-Bit"');
  t.equal(d.firmware, 'bios', 'firmware as the qemu build boots the image');
  t.equal(d.transport, 'com.vmware.guestInfo iso', 'both OVF environment transports');
  t.match(d.files, [{ href: 'golden-disk1.vmdk', id: 'file1', size: 1234 }]);
  t.match(d.disks, [
    {
      diskId: 'vmdisk1',
      fileRef: 'file1',
      capacityBytes: 64 << 20,
      populatedBytes: 4 << 20,
      format: 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized',
    },
  ]);
  const item = (type: string) => d.items.filter((i) => i.ResourceType === type);
  t.match(item('3'), [{ VirtualQuantity: '2' }], 'CPUs');
  t.match(item('4'), [{ VirtualQuantity: '2048', AllocationUnits: 'byte * 2^20' }], 'memory');
  const [scsi] = item('6');
  t.equal(scsi?.ResourceSubType, 'VirtualSCSI', 'paravirtual SCSI controller (vmw_pvscsi)');
  t.match(item('17'), [{ HostResource: 'ovf:/disk/vmdisk1', Parent: scsi?.InstanceID }], 'disk on that controller');
  t.match(item('10'), [{ ResourceSubType: 'VmxNet3', Connection: 'VM Network' }], 'vmxnet3 NIC');
  const [ide] = item('5');
  t.ok(ide, 'an IDE controller');
  t.match(item('15'), [{ Parent: ide?.InstanceID }], "a CD-ROM on it: where vSphere puts the OVF environment's ISO");

  t.equal(d.properties.length, 1);
  const p = d.properties[0]!;
  t.equal(p.key, 'thing-name', 'the key the agent reads');
  t.equal(p.type, 'string');
  t.equal(p.userConfigurable, true, 'asked for at deploy time');
  t.equal(p.value, '', 'empty by default: the hostname is the fallback');
  t.equal(p.qualifiers, `MaxLen(${THING_NAME_MAX})`);
  t.equal(p.description, thingNameRules());
  for (const denied of BUILTIN_DENY) t.ok(p.description?.includes(denied), `the rules name ${denied}`);
  t.match(p.description, /no dots/);
  t.match(xml, /&lt;golden&gt; &amp; &quot;image&quot;/, 'text is escaped by the XML library');
  t.notOk(/ovf:userConfigurable(?!=)/.test(xml), 'no attribute without a value');
});

t.test('export: a standard OVA of a small disk', async (t) => {
  const dir = t.testdir({});
  const disk = smallDisk(dir);
  const ova = join(dir, 'golden.ova');
  const r = await exportOva(disk, ova);
  t.equal(r.verification.ok, true, r.verification.problems.join('; '));
  t.equal(statSync(ova).mode & 0o777, 0o600, 'the OVA (it holds the claim key) is the owner’s only');
  t.same(readdirSync(dir).sort(), ['disk.raw', 'golden.ova', 'golden.qcow2', 'tree'], 'no work files left');

  t.same(sh('tar', ['-tf', ova]).trim().split('\n'), ['golden.ovf', 'golden.mf', 'golden-disk1.vmdk'], 'tar order');
  t.match(sh('tar', ['-tvf', ova]), /^-/m, 'regular files');
  t.equal(readFileSync(ova).subarray(257, 262).toString(), 'ustar', 'ustar headers');

  const x = join(dir, 'x');
  mkdirSync(x);
  sh('tar', ['-xf', ova, '-C', x]);
  const sums = sh('sha256sum', ['golden.ovf', 'golden-disk1.vmdk'], x)
    .trim()
    .split('\n')
    .map((l) => {
      const [sum, file] = l.split(/\s+/);
      return `SHA256(${file})= ${sum}`;
    });
  t.same(readFileSync(join(x, 'golden.mf'), 'utf8').trim().split('\n'), sums, 'manifest = sha256sum of each file');

  const info = JSON.parse(sh('qemu-img', ['info', '--output=json', join(x, 'golden-disk1.vmdk')])) as {
    'virtual-size': number;
    'format-specific': { data: { 'create-type': string } };
  };
  t.equal(info['format-specific'].data['create-type'], 'streamOptimized');
  const d = parseDescriptor(readFileSync(join(x, 'golden.ovf'), 'utf8'));
  t.equal(d.disks[0]?.capacityBytes, info['virtual-size'], 'capacity = the VMDK’s virtual size');
  t.equal(d.files[0]?.size, statSync(join(x, 'golden-disk1.vmdk')).size, 'ovf:size = the VMDK’s size');
  const populated = d.disks[0]!.populatedBytes!;
  t.ok(populated >= 4 << 20 && populated < 64 << 20, `populatedSize ${populated}: the data, not the capacity`);
  t.ok(r.vmdkBytes < 12 << 20, `the VMDK stream (${r.vmdkBytes} bytes) holds the data, compressed`);
  sh('qemu-img', ['compare', '-f', 'qcow2', '-F', 'vmdk', disk, join(x, 'golden-disk1.vmdk')]);
  t.pass('the VMDK holds the same disk contents (qemu-img compare)');
});

t.test('verify: OVAs an importer must refuse', async (t) => {
  const dir = t.testdir({});
  const ova = join(dir, 'golden.ova');
  await exportOva(smallDisk(dir), ova);
  const x = join(dir, 'x');
  mkdirSync(x);
  sh('tar', ['-xf', ova, '-C', x]);
  const ovf = readFileSync(join(x, 'golden.ovf'), 'utf8');
  const mf = readFileSync(join(x, 'golden.mf'), 'utf8');
  let n = 0;
  /** Repack with GNU tar (ustar), the files in the order given, after edits to the extracted copy. */
  const repack = async (order: string[], edit: { ovf?: string; mf?: string } = {}) => {
    writeFileSync(join(x, 'golden.ovf'), edit.ovf ?? ovf);
    writeFileSync(join(x, 'golden.mf'), edit.mf ?? mf);
    const out = join(dir, `bad-${++n}.ova`);
    sh('tar', ['--format=ustar', '-cf', out, ...order], x);
    return verifyOva(out);
  };
  const std = ['golden.ovf', 'golden.mf', 'golden-disk1.vmdk'];
  const sha = (s: string) => execFileSync('sha256sum', { input: s, encoding: 'utf8' }).split(' ')[0];
  const reSigned = (o: string) => mf.replace(/SHA256\(golden\.ovf\)= [0-9a-f]+/, `SHA256(golden.ovf)= ${sha(o)}`);

  t.equal((await repack(std)).ok, true, 'the repacked original passes (the harness itself is sound)');

  const tampered = ovf.replace('ThingName</Label>', 'Name</Label>');
  let v = await repack(std, { ovf: tampered });
  t.match(v.problems, [/golden\.ovf: SHA256 digest mismatch/], 'a descriptor changed after signing');

  v = await repack(['golden-disk1.vmdk', 'golden.ovf', 'golden.mf']);
  t.notOk(v.ok);
  t.match(v.problems.join('\n'), /not the OVF descriptor/, 'disk before the descriptor');

  v = await repack(['golden.ovf', 'golden-disk1.vmdk', 'golden.mf']);
  t.match(v.problems.join('\n'), /manifest golden\.mf is entry 3/, 'manifest after the disk');

  v = await repack(['golden.ovf', 'golden-disk1.vmdk']);
  t.match(v.problems, ['no manifest (.mf)']);

  const badPop = ovf.replace(/ovf:populatedSize="\d+"/, 'ovf:populatedSize="1"');
  v = await repack(std, { ovf: badPop, mf: reSigned(badPop) });
  t.match(v.problems, [/populatedSize 1, the VMDK holds \d+ bytes/]);

  const badCap = ovf.replace(/ovf:capacity="\d+"/, 'ovf:capacity="1048576"');
  v = await repack(std, { ovf: badCap, mf: reSigned(badCap) });
  t.match(v.problems, [/capacity 1048576 bytes, the VMDK holds 67108864/]);

  const badHref = ovf.replace('ovf:href="golden-disk1.vmdk"', 'ovf:href="other.vmdk"');
  v = await repack(std, { ovf: badHref, mf: reSigned(badHref) });
  t.match(v.problems.join('\n'), /ovf:File other\.vmdk is not in the OVA/);
  t.match(v.problems.join('\n'), /golden-disk1\.vmdk is in the OVA but no ovf:File references it/);

  const broken = ovf.replace('</Envelope>', '');
  v = await repack(std, { ovf: broken, mf: reSigned(broken) });
  t.match(v.problems, [/not a readable OVF/], 'malformed XML');

  sh('qemu-img', ['convert', '-O', 'vmdk', join(x, 'golden-disk1.vmdk'), join(x, 'sparse.vmdk')]);
  sh('mv', [join(x, 'sparse.vmdk'), join(x, 'golden-disk1.vmdk')]);
  const sparseSize = statSync(join(x, 'golden-disk1.vmdk')).size;
  const sparseOvf = ovf.replace(/ovf:size="\d+"/, `ovf:size="${sparseSize}"`);
  const disk = sh('sha256sum', ['golden-disk1.vmdk'], x).split(' ')[0];
  v = await repack(std, {
    ovf: sparseOvf,
    mf: `SHA256(golden.ovf)= ${sha(sparseOvf)}\nSHA256(golden-disk1.vmdk)= ${disk}\n`,
  });
  t.match(v.problems.join('\n'), /qemu-img reads vmdk monolithicSparse, not a streamOptimized vmdk/);
});
