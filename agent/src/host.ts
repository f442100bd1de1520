// The machine against the Greengrass nucleus's documented minimums (docs/facts/nucleus-host-minimums.md): the one
// place the thresholds live. `run` and `check` decide from the same cheap probes (built into Node: os.totalmem(),
// os.machine(), fs.statfs), so they refuse the same hosts; `check` adds a richer report (host-report.ts).
import { statfsSync } from 'node:fs';
import { machine, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import type { Logger } from './log.ts';

const MiB = 1024 * 1024;

/**
 * AWS IoT Greengrass developer guide, "Supported platforms and requirements" (Linux): at least 256 MB of disk for the
 * Core software and 96 MB of RAM for it (read as MiB, the stricter reading); tested on these `uname -m` architectures.
 */
export const NUCLEUS_MINIMUMS = {
  memoryBytes: 96 * MiB,
  diskBytes: 256 * MiB,
  architectures: ['x86_64', 'aarch64', 'armv7l'],
} as const;

export interface HostFacts {
  /** `uname -m`: the names AWS lists (x86_64, aarch64, armv7l). */
  arch: string;
  /** MemTotal of /proc/meminfo. */
  memoryBytes: number;
  disk: DiskFacts;
}

export interface DiskFacts {
  /** The Greengrass root (rootPath). */
  path: string;
  /** The directory measured: the root, or its nearest existing parent before the installer creates it. */
  measured: string;
  /** Space an unprivileged writer may use there (statfs f_bavail), what `df` shows as available. */
  freeBytes: number;
}

/** Free space on the file system the Greengrass root is (or will be) on. */
export function diskFacts(rootPath: string): DiskFacts {
  for (let dir = rootPath; ; dir = dirname(dir)) {
    try {
      const st = statfsSync(dir);
      return { path: rootPath, measured: dir, freeBytes: st.bavail * st.bsize };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(dir) !== dir) continue;
      throw new ConfigError(
        `cannot measure the free disk space under the Greengrass root ${rootPath} (statfs ${dir}: ${code ?? (err as Error).message})`,
        'host-disk-unreadable',
        { cause: err },
      );
    }
  }
}

export function hostFacts(rootPath: string): HostFacts {
  return { arch: machine(), memoryBytes: totalmem(), disk: diskFacts(rootPath) };
}

export function size(bytes: number): string {
  if (bytes >= 1024 * MiB) return `${(bytes / 1024 / MiB).toFixed(1)} GiB`;
  return `${Math.floor(bytes / MiB)} MiB`;
}

const GUIDE = 'AWS IoT Greengrass developer guide, Device requirements';

export function checkMemory(memoryBytes: number): string {
  const min = NUCLEUS_MINIMUMS.memoryBytes;
  if (memoryBytes < min) {
    throw new ConfigError(
      `this machine has ${size(memoryBytes)} of memory, below the ${size(min)} the Greengrass nucleus needs (${GUIDE}): give the VM more memory`,
      'host-memory-below-minimum',
    );
  }
  return `${size(memoryBytes)} total; the nucleus needs ${size(min)}`;
}

export function checkDisk(disk: DiskFacts): string {
  const { path, measured, freeBytes } = disk;
  const min = NUCLEUS_MINIMUMS.diskBytes;
  const where = measured === path ? path : `${path} (at ${measured}, its nearest existing parent)`;
  if (freeBytes < min) {
    throw new ConfigError(
      `${size(freeBytes)} free under the Greengrass root ${where}, below the ${size(min)} the Greengrass nucleus needs (${GUIDE}): grow the disk or free space`,
      'host-disk-below-minimum',
    );
  }
  return `${size(freeBytes)} free under ${where}; the nucleus needs ${size(min)}`;
}

/** Null when AWS lists the architecture; else why it is only a warning (AWS says others might work). */
export function architectureNote(arch: string): string | null {
  const listed: readonly string[] = NUCLEUS_MINIMUMS.architectures;
  if (listed.includes(arch)) return null;
  return `${arch} is not an architecture AWS tests the nucleus on (${listed.join(', ')}); it might work`;
}

export function checkArchitecture(arch: string): string {
  return architectureNote(arch) ?? `${arch}; AWS tests the nucleus on ${NUCLEUS_MINIMUMS.architectures.join(', ')}`;
}

/** `run`'s host preflight: refuses a machine below the minimums (exit 3), warns about an untested architecture. */
export function checkHost(rootPath: string, log: Logger): void {
  const facts = hostFacts(rootPath);
  checkMemory(facts.memoryBytes);
  checkDisk(facts.disk);
  const note = architectureNote(facts.arch);
  if (note) log.warn({ arch: facts.arch, reason: 'host-architecture-untested' }, `The CPU architecture ${note}`);
}
