// `build --format ova`: what the build command needs from the OVA export, kept out of build.ts. The format is
// checked with the other inputs (before anything is created); the export runs after Packer, on the sealed qcow2.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError, UsageError } from '../../../common/errors.ts';
import { sha256File } from '../artifacts.ts';
import { exportOva, type OvaResult } from './package.ts';

export const FORMATS = ['ova'] as const;
export type OutputFormat = (typeof FORMATS)[number];

export const FORMAT_OPTION = {
  format: {
    type: 'string',
    describe: 'also package the image: ova (qemu target: OVF 1.0 + SHA-256 manifest + streamOptimized VMDK)',
  },
} as const;

/** Checks --format against the target; returns it (undefined = the builder's native output only). */
export function checkFormat(format: string | undefined, target: string): OutputFormat | undefined {
  if (format === undefined) return undefined;
  if (!(FORMATS as readonly string[]).includes(format))
    throw new UsageError(`unknown --format ${JSON.stringify(format)}: use ${FORMATS.join(', ')}`);
  if (target !== 'qemu')
    throw new UsageError(
      `--format ova exports the qemu target's disk; the ${target} target makes its own image (use --target qemu)`,
    );
  const r = spawnSync('qemu-img', ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0)
    throw new ToolError('--format ova needs qemu-img (qemu-utils), which does not run here', 'qemu-img-missing');
  return 'ova';
}

export interface BuiltOva {
  path: string;
  bytes: number;
  sha256: string;
  sealedDisk: string;
  sealedDiskBytes: number;
  capacityBytes: number;
  populatedBytes: number;
}

/** The sealed qcow2 Packer left in outDir, exported as <vm name>.ova beside it. */
export async function exportBuildOva(outDir: string, progress: (m: string) => void): Promise<BuiltOva> {
  const disks = readdirSync(outDir).filter((f) => f.endsWith('.qcow2') && statSync(join(outDir, f)).isFile());
  if (disks.length !== 1)
    throw new ToolError(
      `--format ova: expected one .qcow2 in ${outDir}, found ${disks.length ? disks.join(', ') : 'none'}`,
      'no-image',
    );
  const disk = join(outDir, disks[0]!);
  const r: OvaResult = await exportOva(disk, disk.replace(/\.qcow2$/, '.ova'), { progress });
  return {
    path: r.ova,
    bytes: r.ovaBytes,
    sha256: await sha256File(r.ova),
    sealedDisk: disk,
    sealedDiskBytes: r.sourceDiskBytes,
    capacityBytes: r.capacityBytes,
    populatedBytes: r.populatedBytes,
  };
}
