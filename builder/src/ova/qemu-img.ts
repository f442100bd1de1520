// qemu-img, the one tool the OVA needs: converting the sealed disk to a streamOptimized VMDK (deflate-compressed
// grains, the VMDK variant OVF packages carry) and reading a disk's format, virtual size and allocated data.
import { spawn } from 'node:child_process';
import { ToolError } from '../../../common/errors.ts';

export function qemuImg(args: string[], timeoutMs = 60 * 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-img', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.once('error', (e) => {
      clearTimeout(timer);
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new ToolError(
          missing ? 'qemu-img not found: install qemu-utils' : `cannot run qemu-img: ${e.message}`,
          'qemu-img-missing',
          { cause: e },
        ),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else
        reject(
          new ToolError(
            `qemu-img ${args[0]} failed (${signal ?? `exit ${code}`}): ${err.trim().split('\n').pop() ?? ''}`,
            'qemu-img-failed',
          ),
        );
    });
  });
}

export interface DiskInfo {
  format: string;
  virtualSize: number;
  /** VMDK only: the create type (monolithicSparse, streamOptimized, ...). */
  createType: string | null;
}

export async function diskInfo(path: string): Promise<DiskInfo> {
  const j = JSON.parse(await qemuImg(['info', '--output=json', path])) as {
    format: string;
    'virtual-size': number;
    'format-specific'?: { type?: string; data?: { 'create-type'?: string } };
  };
  return {
    format: j.format,
    virtualSize: j['virtual-size'],
    createType: j['format-specific']?.type === 'vmdk' ? (j['format-specific'].data?.['create-type'] ?? null) : null,
  };
}

/** Bytes of the disk that hold data (qemu-img map): what OVF calls the disk's populated size. */
export async function populatedBytes(path: string): Promise<number> {
  const map = JSON.parse(await qemuImg(['map', '--output=json', path])) as { length: number; data: boolean }[];
  return map.filter((e) => e.data).reduce((n, e) => n + e.length, 0);
}

/**
 * Sealed disk -> streamOptimized VMDK. qemu-img skips all-zero clusters, so trimmed or zeroed free space costs
 * nothing; adapter_type=lsilogic is the descriptor value VMware writes for disks on SCSI controllers.
 */
export async function toStreamOptimizedVmdk(source: string, format: string, dest: string): Promise<void> {
  await qemuImg([
    'convert',
    '-f',
    format,
    '-O',
    'vmdk',
    '-o',
    'subformat=streamOptimized,adapter_type=lsilogic',
    source,
    dest,
  ]);
}
