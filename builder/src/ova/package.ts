// Sealed disk -> OVA, the flow:
//   1. read the sealed disk (qemu-img info): its format and virtual size;
//   2. convert it to a streamOptimized VMDK in a 0700 work dir beside the OVA (the image holds the claim key);
//   3. the VMDK's file size and populated size (qemu-img map) go into the OVF descriptor (descriptor.ts);
//   4. a SHA-256 manifest of the descriptor and the disk;
//   5. the tar: descriptor first, then the manifest, then the disk (the order OVF 1.0 prescribes for an OVA),
//      ustar headers without owner names, written under a temporary name and renamed, mode 0600 (the image holds
//      the claim key);
//   6. checked as an importer would (verify.ts) before it is called done.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { create as tarCreate } from 'tar';
import { ConfigError, IntegrityError } from '../../../common/errors.ts';
import { sha256File } from '../artifacts.ts';
import { buildDescriptor, type DescriptorInput, type Firmware } from './descriptor.ts';
import { diskInfo, populatedBytes, toStreamOptimizedVmdk } from './qemu-img.ts';
import { verifyOva, type OvaVerification } from './verify.ts';

export interface OvaOptions {
  /** VM name inside the OVA (default: the sealed disk's file name without extension). */
  name?: string;
  cpus?: number;
  memoryMiB?: number;
  firmware?: Firmware;
  hardwareVersion?: string;
  product?: DescriptorInput['product'];
  progress?: (line: string) => void;
}

export interface OvaResult {
  ova: string;
  ovaBytes: number;
  sourceDisk: string;
  sourceDiskBytes: number;
  vmdkBytes: number;
  capacityBytes: number;
  populatedBytes: number;
  verification: OvaVerification;
}

/** The manifest line format VMware's tools write and read: `SHA256(<file>)= <hex>`. */
export function manifestLine(file: string, sha256: string): string {
  return `SHA256(${file})= ${sha256}\n`;
}

export async function exportOva(sourceDisk: string, ova: string, o: OvaOptions = {}): Promise<OvaResult> {
  const progress = o.progress ?? (() => {});
  const info = await diskInfo(sourceDisk);
  if (!['qcow2', 'raw', 'vmdk'].includes(info.format))
    throw new ConfigError(
      `${sourceDisk} is a ${info.format} disk; the OVA export reads qcow2, raw or vmdk`,
      'ova-source',
    );
  const name = o.name ?? basename(sourceDisk).replace(/\.[^.]+$/, '');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    throw new ConfigError(`OVA name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-'`, 'ova-name');

  const work = mkdtempSync(join(dirname(ova), '.ova-')); // 0700
  try {
    const ovf = `${name}.ovf`;
    const mf = `${name}.mf`;
    const vmdk = `${name}-disk1.vmdk`;
    progress(`ova: ${sourceDisk} (${info.format}) -> streamOptimized VMDK`);
    await toStreamOptimizedVmdk(sourceDisk, info.format, join(work, vmdk));
    const vmdkBytes = statSync(join(work, vmdk)).size;
    const populated = await populatedBytes(join(work, vmdk));
    const descriptor = buildDescriptor({
      name,
      disk: { href: vmdk, fileSize: vmdkBytes, capacityBytes: info.virtualSize, populatedBytes: populated },
      cpus: o.cpus ?? 2,
      memoryMiB: o.memoryMiB ?? 2048,
      firmware: o.firmware ?? 'bios',
      hardwareVersion: o.hardwareVersion,
      product: o.product,
    });
    writeFileSync(join(work, ovf), descriptor, { mode: 0o600 });
    const digests = [
      manifestLine(ovf, createHash('sha256').update(descriptor).digest('hex')),
      manifestLine(vmdk, await sha256File(join(work, vmdk))),
    ];
    writeFileSync(join(work, mf), digests.join(''), { mode: 0o600 });
    progress(`ova: packing ${ovf}, ${mf}, ${vmdk}`);
    const tmp = join(work, `${name}.ova.part`);
    await tarCreate({ file: tmp, cwd: work, portable: true, mtime: new Date(statSync(sourceDisk).mtimeMs) }, [
      ovf,
      mf,
      vmdk,
    ]);
    const verification = await verifyOva(tmp, { tmpDir: work });
    if (!verification.ok)
      throw new IntegrityError(
        `the OVA written fails its own checks: ${verification.problems.join('; ')}`,
        'ova-invalid',
      );
    chmodSync(tmp, 0o600);
    renameSync(tmp, ova);
    return {
      ova,
      ovaBytes: statSync(ova).size,
      sourceDisk,
      sourceDiskBytes: statSync(sourceDisk).size,
      vmdkBytes,
      capacityBytes: info.virtualSize,
      populatedBytes: populated,
      verification,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
