// Runs the BUILT agent on a machine made smaller than the test host, through the kernel's own interfaces rather than
// a seam in the agent: in a private mount namespace (unshare; as a non-root user also a user namespace), a fake
// /proc/meminfo is bind-mounted over the real one (Node's os.totalmem() and systeminformation read it) and a tmpfs
// of the given size is mounted where the Greengrass root will be (statfs then reports its free space).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXE, SYSTEM_PATH, ensureBuilt, type ExeResult } from './agent-exe.ts';
import type { DeviceRoot } from './device-root.ts';

export interface SmallHost {
  /** MemTotal to show in /proc/meminfo. */
  memoryKiB?: number;
  /** A tmpfs of this size mounted at `diskAt`. */
  diskMiB?: number;
  diskAt?: string;
}

const SCRIPT = `set -e
if [ -n "$FAKE_MEMINFO" ]; then mount --bind "$FAKE_MEMINFO" /proc/meminfo; fi
if [ -n "$SMALL_DISK_MIB" ]; then mount -t tmpfs -o "size=\${SMALL_DISK_MIB}m" tmpfs "$SMALL_DISK_AT"; fi
unset FAKE_MEMINFO SMALL_DISK_MIB SMALL_DISK_AT
exec "$@"`;

export function runOnSmallHost(root: DeviceRoot, args: string[], host: SmallHost): Promise<ExeResult> {
  ensureBuilt();
  const env: Record<string, string> = { PATH: SYSTEM_PATH, HOME: root.dir, ...root.env };
  if (host.memoryKiB !== undefined) {
    const meminfo = join(root.dir, 'fake-meminfo');
    const kb = host.memoryKiB;
    writeFileSync(
      meminfo,
      `MemTotal: ${kb} kB\nMemFree: ${Math.floor(kb / 2)} kB\nMemAvailable: ${Math.floor(kb / 2)} kB\n`,
    );
    env.FAKE_MEMINFO = meminfo;
  }
  if (host.diskMiB !== undefined) {
    if (!host.diskAt) throw new Error('runOnSmallHost: diskMiB needs diskAt');
    mkdirSync(host.diskAt, { recursive: true });
    env.SMALL_DISK_MIB = String(host.diskMiB);
    env.SMALL_DISK_AT = host.diskAt;
  }
  const userns = process.getuid?.() === 0 ? [] : ['--user', '--map-root-user'];
  const started = Date.now();
  const child = spawn(
    'unshare',
    [
      ...userns,
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      SCRIPT,
      'sh',
      EXE,
      ...args,
      '--config',
      root.configPath,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
  });
}
