// A real systemd-journald of its own for a test: in a private mount namespace (unshare -m) with tmpfs on /run
// (its sockets) and on /var/log/journal (its files), so the machine's own journal is neither read nor written.
// Needs root, util-linux (unshare, nsenter, logger) and systemd (systemd-journald, journalctl, systemd-cat):
// scripts/setup.sh installs them. Commands run inside the namespace through nsenter.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SYSTEM_PATH } from './agent-exe.ts';

export const JOURNALD = '/lib/systemd/systemd-journald';
const TOOLS = ['unshare', 'nsenter', 'journalctl', 'systemd-cat', 'logger', 'stat'];

/** Why a private journald cannot run here, or null. */
export function journaldUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the private journald needs root (a mount namespace and tmpfs mounts)';
  if (!existsSync(JOURNALD)) return `${JOURNALD} is missing: install the systemd package (scripts/setup.sh does)`;
  const missing = TOOLS.filter(
    (t) => spawnSync('sh', ['-c', `command -v ${t}`], { env: { PATH: SYSTEM_PATH } }).status !== 0,
  );
  if (missing.length)
    return `missing ${missing.join(', ')}: install util-linux, bsdutils and systemd (scripts/setup.sh)`;
  return null;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface PrivateJournald {
  /** Run a command in the namespace (it sees the private /run and its journal). */
  run(argv: string[], env?: Record<string, string>): Promise<RunResult>;
  /** `journalctl --no-pager ARGS` in the namespace; its stdout. */
  journalctl(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

function collect(child: ChildProcess): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function startPrivateJournald(): Promise<PrivateJournald> {
  const why = journaldUnavailable();
  if (why) throw new Error(why);
  // journald is the namespace's first process: the namespace lives as long as it does.
  const script = [
    'set -e',
    'mount -t tmpfs -o mode=0755 tmpfs /run',
    'mkdir -p /run/systemd/journal',
    'if [ -d /var/log/journal ]; then mount -t tmpfs -o mode=2755 tmpfs /var/log/journal; fi',
    `exec ${JOURNALD}`,
  ].join('\n');
  const daemon = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
    env: { PATH: SYSTEM_PATH },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let daemonErr = '';
  daemon.stderr!.on('data', (d: Buffer) => (daemonErr += d.toString()));
  const exited = new Promise<void>((r) => daemon.on('close', () => r()));
  const pid = daemon.pid!;
  const inNs = (argv: string[], env: Record<string, string> = {}) =>
    collect(
      spawn('nsenter', ['-t', String(pid), '-m', '--', ...argv], {
        env: { PATH: SYSTEM_PATH, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  const stop = async () => {
    daemon.kill('SIGTERM');
    await exited;
  };
  // Ready once its native and stream sockets exist.
  for (let i = 0; ; i++) {
    const r = await inNs(['sh', '-c', 'test -S /run/systemd/journal/socket && test -S /run/systemd/journal/stdout']);
    if (r.code === 0) break;
    if (daemon.exitCode !== null || i > 100) {
      await stop();
      throw new Error(`systemd-journald did not start: ${daemonErr.trim() || r.stderr.trim()}`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  return {
    run: inNs,
    journalctl: async (args) => {
      const r = await inNs(['journalctl', '--no-pager', ...args]);
      if (r.code !== 0 && r.code !== 1) throw new Error(`journalctl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    },
    stop,
  };
}

/**
 * The command line that runs `argv` as systemd runs a unit's process: stdout and stderr one stream into the
 * journal (systemd-cat), with JOURNAL_STREAM naming that stream's device and inode as systemd.exec(7) says.
 */
export function underJournalStream(identifier: string, argv: string[]): string[] {
  return [
    'systemd-cat',
    '-t',
    identifier,
    '--',
    'sh',
    '-c',
    'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$@"',
    'sh',
    ...argv,
  ];
}
