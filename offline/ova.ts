// The OVA in the offline pipeline: the one `build --format ova` wrote beside the sealed disk (exported here for a
// reused bake that has none), checked as an importer would (builder/src/ova/verify.ts), and its disk made bootable
// for QEMU the way an importer unpacks it: the VMDK taken out of the tar and converted to qcow2. A clone booted from
// that disk proves the OVA carries a working image, not only a well-formed package.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IntegrityError } from '../common/errors.ts';
import { exportOva } from '../builder/src/ova/package.ts';
import { verifyOva } from '../builder/src/ova/verify.ts';
import { run, type Progress } from './proc.ts';

export interface OvaReport {
  path: string;
  bytes: number;
  sealedDiskBytes: number;
  vmdkBytes: number;
  capacityBytes: number;
  populatedBytes: number;
  /** Made by the bake (`build --format ova`) or exported here for a reused bake. */
  origin: 'bake' | 'pipeline';
  problems: string[];
  /** The OVA's disk converted back to qcow2 (what the clone from the OVA boots). */
  disk: string;
}

export function findOva(dir: string): string | null {
  if (!existsSync(dir)) return null;
  const f = readdirSync(dir).find((n) => n.endsWith('.ova') && statSync(join(dir, n)).isFile());
  return f ? join(dir, f) : null;
}

export async function prepareOva(
  sealed: string,
  bakedOva: string | null,
  runDir: string,
  progress: Progress,
): Promise<OvaReport> {
  const dir = join(runDir, 'ova');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let path = bakedOva;
  if (!path) {
    path = join(dir, 'greengrass-golden.ova');
    progress(`ova: the reused bake has no OVA; exporting ${sealed}`);
    await exportOva(sealed, path, { progress });
  }
  const v = await verifyOva(path, { tmpDir: dir });
  const disk = v.descriptor?.disks[0];
  const file = v.descriptor?.files.find((f) => f.id === disk?.fileRef);
  if (!v.ok || !disk || !file)
    throw new IntegrityError(`${path} fails the importer checks: ${v.problems.join('; ')}`, 'ova-invalid');

  const log = join(runDir, 'logs', 'ova.log');
  const qcow2 = join(dir, 'disk-from-ova.qcow2');
  rmSync(join(dir, file.href), { force: true });
  await run('tar', ['-xf', path, '-C', dir, file.href], { stage: 'ova: unpack', logFile: log, progress });
  await run('qemu-img', ['convert', '-f', 'vmdk', '-O', 'qcow2', join(dir, file.href), qcow2], {
    stage: 'ova: vmdk to qcow2',
    logFile: log,
    progress,
  });
  rmSync(join(dir, file.href), { force: true });
  return {
    path,
    bytes: statSync(path).size,
    sealedDiskBytes: statSync(sealed).size,
    vmdkBytes: file.size ?? 0,
    capacityBytes: disk.capacityBytes,
    populatedBytes: disk.populatedBytes ?? 0,
    origin: bakedOva ? 'bake' : 'pipeline',
    problems: v.problems,
    disk: qcow2,
  };
}

export const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
