// The Node that RUNS @yao-pkg/pkg for scripts/build.mjs. pkg 6.15 and later refuse to run their SEA mode on a
// Node older than 22 (package.json engines, and a check in its lib/sea.ts), while the executable carries the
// build host's own Node (20 on the project's machines). So: the local node when it is 22 or newer, else a pinned
// Node 22 for this host's platform from the npm registry's node-<platform>-<arch> package (the node binary as
// nodejs.org publishes it), fetched with npm, checked against the pinned integrity, kept in the cache dir.
// It only runs pkg's JavaScript; nothing of it goes into the executable.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const PKG_MIN_NODE_MAJOR = 22;
const RUNNER_VERSION = '22.23.3';
/** `dist.integrity` of node-<platform>-<arch>@RUNNER_VERSION in the npm registry; a new host platform adds a line. */
const RUNNER_INTEGRITY = {
  'linux-x64': 'sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==',
};

const major = (v) => Number(v.replace(/^v/, '').split('.')[0]);

/** The node binary to run pkg with, and its version. */
export function pkgNode(cacheDir, progress) {
  if (major(process.version) >= PKG_MIN_NODE_MAJOR) return { bin: process.execPath, version: process.version };
  const host = `${process.platform}-${process.arch}`;
  const dir = join(cacheDir, `node-v${RUNNER_VERSION}-${host}`);
  const bin = join(dir, 'bin', 'node');
  if (existsSync(bin)) return { bin, version: `v${RUNNER_VERSION}` };
  const integrity = RUNNER_INTEGRITY[host];
  if (!integrity)
    throw new Error(
      `build: pkg needs Node >= ${PKG_MIN_NODE_MAJOR} to run and this node is ${process.version}; ` +
        `no pinned Node ${RUNNER_VERSION} for ${host} (scripts/pkg-node.mjs): run the build with Node >= ${PKG_MIN_NODE_MAJOR}`,
    );
  const pkgName = `node-${host}@${RUNNER_VERSION}`;
  progress(`pkg needs Node >= ${PKG_MIN_NODE_MAJOR} to run (this is ${process.version}): fetching ${pkgName}`);
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', pkgName, '--json', '--prefer-offline', '--pack-destination', tmp], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const tgz = join(tmp, packed.filename);
    const got = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    if (got !== integrity) throw new Error(`build: ${pkgName} integrity ${got}, pinned ${integrity}`);
    execFileSync('tar', ['-xzf', tgz, '-C', tmp, '--strip-components=1', 'package/bin/node']);
    rmSync(tgz);
    try {
      renameSync(tmp, dir); // whole or not at all: a half-fetched runner is never found
    } catch (err) {
      if (!existsSync(bin)) throw err; // else another build fetched it meanwhile
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { bin, version: `v${RUNNER_VERSION}` };
}
