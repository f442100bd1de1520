// Packer: find the binary and its version, stage the templates the way the contract says
// (plugins.pkr.hcl left out below 1.7; `packer init` from 1.7 on), and run it with its output
// streamed line by line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolError, UsageError } from '../../common/errors.ts';
import { REPO_ROOT } from '../../common/repo-root.ts';
import { renderUserData, type UserDataSettings } from './user-data.ts';

export { REPO_ROOT };
export const PACKER_SRC = join(REPO_ROOT, 'packer');

/** `--target` names and the Packer source each one builds (packer/sources.pkr.hcl). */
export const TARGETS = {
  vsphere: 'vsphere-iso.ubuntu',
  vmware: 'vmware-iso.ubuntu',
  virtualbox: 'virtualbox-iso.ubuntu',
  qemu: 'qemu.ubuntu',
} as const;
export type Target = keyof typeof TARGETS;

export function isTarget(name: string): name is Target {
  return Object.hasOwn(TARGETS, name);
}

/** A `--target` value checked: one of TARGETS, or a usage error that names them. */
export function targetNamed(name: string): Target {
  if (!isTarget(name))
    throw new UsageError(`unknown target ${JSON.stringify(name)}: use one of ${Object.keys(TARGETS).join(', ')}`);
  return name;
}

export interface PackerInfo {
  bin: string;
  version: string;
  major: number;
  minor: number;
  patch: number;
  /** `packer init` exists and plugins.pkr.hcl is understood (>= 1.7). */
  supportsInit: boolean;
}

export function detectPacker(bin = 'packer'): PackerInfo {
  if (bin.includes('/') && !existsSync(bin))
    throw new ToolError(`packer not found at ${bin} (--packer)`, 'packer-missing');
  const r = spawnSync(bin, ['version'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, CHECKPOINT_DISABLE: '1' },
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new ToolError(
      code === 'ENOENT'
        ? `packer not found (${bin}): install Packer >= 1.6.6 or pass --packer PATH`
        : `cannot run ${bin} version: ${r.error.message}`,
      'packer-missing',
      { cause: r.error },
    );
  }
  const m = /Packer v?(\d+)\.(\d+)\.(\d+)/.exec(`${r.stdout}\n${r.stderr}`);
  if (r.status !== 0 || !m)
    throw new ToolError(
      `${bin} version failed or printed no version (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n')[0]}`,
      'packer-broken',
    );
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (major === 1 && (minor < 6 || (minor === 6 && patch < 6)))
    throw new ToolError(`${bin} is Packer ${m[1]}.${m[2]}.${m[3]}; the templates need >= 1.6.6`, 'packer-too-old');
  return { bin, version: `${major}.${minor}.${patch}`, major, minor, patch, supportsInit: major > 1 || minor >= 7 };
}

/** Copy the HCL root, scripts/ and http/ into <dir>/packer for this Packer. Returns that dir. */
/**
 * Copy the templates into a private staging dir; with user-data settings, render the ISO builds'
 * autoinstall user-data (user-data.mustache) into its http/ (0600: it holds the password's hash).
 */
export function stageTemplates(dir: string, packer: PackerInfo, src = PACKER_SRC, userData?: UserDataSettings): string {
  const root = join(dir, 'packer');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  for (const f of readdirSync(src)) {
    if (!f.endsWith('.hcl')) continue;
    if (f === 'plugins.pkr.hcl' && !packer.supportsInit) continue;
    cpSync(join(src, f), join(root, f));
  }
  for (const sub of ['scripts', 'http'])
    if (existsSync(join(src, sub))) cpSync(join(src, sub), join(root, sub), { recursive: true });
  if (userData) {
    const text = renderUserData(readFileSync(join(src, 'user-data.mustache'), 'utf8'), userData);
    mkdirSync(join(root, 'http'), { recursive: true });
    writeFileSync(join(root, 'http', 'user-data'), text, { mode: 0o600 });
  }
  return root;
}

export interface RunningPacker {
  child: ChildProcess;
  done: Promise<number>;
}

/**
 * Start packer; every output line goes to `onLine`. Resolves with the exit code. Packer starts with umask 077, which
 * it and the tools it runs inherit: the output directory and the image in it (which hold the claim key) are created
 * readable by the owner only.
 */
export function startPacker(
  packer: PackerInfo,
  args: string[],
  cwd: string,
  onLine: (line: string, stream: 'out' | 'err') => void,
  env: Record<string, string> = {},
): RunningPacker {
  const umask = process.umask(0o077);
  let child: ChildProcess;
  try {
    child = spawn(packer.bin, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, CHECKPOINT_DISABLE: '1' },
    });
  } finally {
    process.umask(umask);
  }
  const pump = (s: NodeJS.ReadableStream, which: 'out' | 'err') => {
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i).replace(/\r$/, ''), which);
        buf = buf.slice(i + 1);
      }
    });
    s.on('end', () => {
      if (buf) onLine(buf, which);
    });
  };
  pump(child.stdout!, 'out');
  pump(child.stderr!, 'err');
  const done = new Promise<number>((res, rej) => {
    child.once('error', (err) =>
      rej(new ToolError(`cannot start ${packer.bin}: ${err.message}`, 'packer-missing', { cause: err })),
    );
    child.once('close', (code, signal) => res(code ?? (signal ? 128 : 1)));
  });
  return { child, done };
}

/** Run packer to completion, collecting output (validate / fmt / init). */
export function runPackerSync(
  packer: PackerInfo,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): { status: number; output: string } {
  const r = spawnSync(packer.bin, args, {
    cwd,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, ...env, CHECKPOINT_DISABLE: '1' },
  });
  if (r.error)
    throw new ToolError(`cannot run ${packer.bin} ${args[0]}: ${r.error.message}`, 'packer-failed', { cause: r.error });
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
}
