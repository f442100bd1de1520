#!/usr/bin/env node
// npm run build: the first-boot agent as one executable, dist/greengrass-firstboot, for the guest's platform and
// architecture (agent/target.json). Every step prints an `agent: ...` line when it starts and its duration when it
// ends, so `greengrass-image build` can show them as they happen. Nothing of the executable is downloaded.
//   1. host check: pkg copies the LOCAL node binary into the executable, so only a host of the target's platform
//      and architecture can make it
//   2. bundle: esbuild makes agent/src/main.ts one CommonJS file (pkg's SEA mode without a package.json takes one
//      file); dependencies are bundled as published, nothing inside them is replaced
//   3. executable: @yao-pkg/pkg's SEA mode (scripts/pkg-sea.mjs) with this node as the binary and Node's code cache;
//      skipped when the bundle, the scripts, pkg and the node binary are those of the last build (the stamp)
//   4. smoke check: --version from the executable with no node on PATH
import { build } from 'esbuild';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pkgNode } from './pkg-node.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const work = join(root, '.cache', 'build');
const exe = join(dist, 'greengrass-firstboot');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const target = JSON.parse(readFileSync(join(root, 'agent', 'target.json'), 'utf8'));
const pkgVersion = createRequire(import.meta.url)('@yao-pkg/pkg/package.json').version;
const nodeBin = process.execPath;
/** pkg's target name: the Node in the executable is this one, so its major names the target's Node. */
const pkgTarget = `node${process.versions.node.split('.')[0]}-${target.platform}-${target.arch}`;
const say = (line) => console.log(`agent: ${line}`);
const since = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

// 1. The executable is a copy of this node: a host of another platform or architecture would make one the guest
//    cannot run. (`greengrass-image build` refuses such a host before this and suggests --agent-exe.)
function checkHost() {
  if (process.platform !== target.platform || process.arch !== target.arch)
    throw new Error(
      `this host (${process.platform}-${process.arch}) cannot make the ${pkgTarget} agent executable: pkg puts the ` +
        `local node into it. Build on a ${target.platform}-${target.arch} host and pass its ` +
        `dist/greengrass-firstboot to greengrass-image build --agent-exe`,
    );
}

// 2. One CommonJS file.
async function bundle() {
  const t0 = Date.now();
  say('bundling agent/src/main.ts with esbuild');
  const out = join(work, 'greengrass-firstboot.cjs');
  await build({
    entryPoints: [join(root, 'agent/src/main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: out,
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    define: {
      __AGENT_VERSION__: JSON.stringify(pkg.version),
      // ESM dependencies (yargs) read import.meta.url, which a CommonJS bundle does not have.
      'import.meta.url': '__gg_import_meta_url',
    },
    banner: { js: 'var __gg_import_meta_url = require("url").pathToFileURL(process.execPath).href;' },
  });
  say(`bundled (${(statSync(out).size / 1024).toFixed(0)} KiB) in ${since(t0)}`);
  return out;
}

/** What the executable is made from; equal digests mean an equal executable. */
function digest(bundlePath) {
  const h = createHash('sha256').update(readFileSync(bundlePath));
  for (const f of ['build.mjs', 'pkg-sea.mjs']) h.update(readFileSync(join(root, 'scripts', f)));
  return h.update(`${pkgVersion} ${pkgTarget} ${nodeBin} ${statSync(nodeBin).mtimeMs}`).digest('hex');
}

/** Runs a command, each line of its output shown as `agent: pkg | line` as it comes. */
function streamed(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [child.stdout, child.stderr])
      createInterface({ input: s }).on('line', (l) => l.trim() && say(`pkg | ${l}`));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`pkg failed (exit ${code ?? signal}, see above)`)),
    );
  });
}

// 3. The executable, by pkg's SEA mode, written under a per-process name and renamed: two builds at once, or one
//    interrupted, never leave a half-written executable.
async function makeExecutable(bundlePath, stamp) {
  const t0 = Date.now();
  const runner = pkgNode(join(root, '.cache', 'pkg-node'), say);
  say(`making the executable with @yao-pkg/pkg ${pkgVersion} (SEA, target ${pkgTarget}, node ${nodeBin})`);
  const tmp = `${exe}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  const job = {
    entry: bundlePath,
    output: tmp,
    nodePath: nodeBin,
    target: { nodeRange: pkgTarget.split('-')[0], platform: target.platform, arch: target.arch },
    useCodeCache: true,
  };
  if (runner.bin !== nodeBin) say(`pkg runs on node ${runner.version} (${runner.bin})`);
  try {
    await streamed(runner.bin, [join(root, 'scripts', 'pkg-sea.mjs'), JSON.stringify(job)]);
    renameSync(tmp, exe);
  } finally {
    rmSync(tmp, { force: true });
  }
  writeFileSync(stamp, digest(bundlePath));
  say(`made ${exe} in ${since(t0)}`);
}

// 4. It runs, alone, and is the version just built.
function smokeCheck() {
  const version = execFileSync(exe, ['--version'], { env: { PATH: '/nonexistent' }, encoding: 'utf8' }).trim();
  if (version !== pkg.version)
    throw new Error(`${exe} --version printed ${JSON.stringify(version)}, expected ${pkg.version}`);
  // The executable's mtime says "built from the sources as of now", also when it was up to date: the tests
  // (harness/agent-exe.ts) refuse to run an executable older than a source file.
  const now = new Date();
  utimesSync(exe, now, now);
  return version;
}

try {
  const started = Date.now();
  checkHost();
  mkdirSync(dist, { recursive: true });
  mkdirSync(work, { recursive: true });
  const bundlePath = await bundle();
  const stamp = join(work, 'sea.stamp');
  if (existsSync(exe) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest(bundlePath))
    say(`${exe} is up to date`);
  else await makeExecutable(bundlePath, stamp);
  const version = smokeCheck();
  const mib = (statSync(exe).size / 1024 / 1024).toFixed(1);
  say(`${exe} ${version} (${pkgTarget}, ${mib} MiB) ready in ${since(started)}`);
} catch (err) {
  console.error(`build: error: ${err.message}`);
  process.exitCode = 1;
}
