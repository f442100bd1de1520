#!/usr/bin/env node
// npm run build: bundle the first-boot agent (agent/src/main.ts) with esbuild into one CJS file,
// then make the single executable dist/greengrass-firstboot from the LOCAL node binary (Node 20
// single-executable application: --experimental-sea-config + postject; nothing is downloaded).
// The blob carries the bundle and a V8 code cache TRAINED by running the agent's commands
// (scripts/sea/train.ts); its main script, scripts/sea/loader.cjs, compiles the bundle with that cache.
// Node's own SEA code cache (useCodeCache) compiles without running, so it holds top-level code only;
// the trained one also holds every function a first boot calls (measured: ~20 ms less per run).
// Not a startup snapshot (useSnapshot), though it started faster still: Node refuses a snapshot whose V8
// flag hash differs from the running V8's ("Failed to load the startup snapshot because it was built
// with a different version of V8 or with different V8 configurations"), which is what happened in the
// offline pipeline's TCG guest; golden-image clones run on CPUs the build host never saw. A rejected
// code cache only costs the compile it would have saved.
// This is the mechanism @yao-pkg/pkg's SEA mode uses (sea-config blob + postject into a node binary),
// driven directly: pkg's `--sea` CLI always downloads its Node binary (local node and sea-config
// options exist only in its internal API).
// Idempotent: the executable is rebuilt only when the bundle, the trainer, the loader or the node binary changed.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import nodeModule from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAZY_SEGMENTER, startupTrims } from './build-plugins.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const work = join(root, '.cache', 'build');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const started = Date.now();

mkdirSync(dist, { recursive: true });
mkdirSync(work, { recursive: true });

const bundle = join(work, 'greengrass-firstboot.cjs');
await build({
  entryPoints: [join(root, 'agent/src/main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: bundle,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: startupTrims,
  define: {
    __AGENT_VERSION__: JSON.stringify(pkg.version),
    // yargs' ESM shim uses import.meta.url to find itself; in the CJS bundle point it at the executable.
    'import.meta.url': '__gg_import_meta_url',
    'Intl.Segmenter': '__gg_LazySegmenter',
  },
  banner: { js: `var __gg_import_meta_url = require("url").pathToFileURL(process.execPath).href;\n${LAZY_SEGMENTER}` },
});

const exe = join(dist, 'greengrass-firstboot');
const stamp = join(work, 'sea.stamp');
const nodeBin = process.execPath;
const loader = join(root, 'scripts', 'sea', 'loader.cjs');
const trainer = join(work, 'sea-train.cjs');
await build({
  entryPoints: [join(root, 'scripts', 'sea', 'train.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: trainer,
  logLevel: 'warning',
});
const digest = createHash('sha256');
for (const f of [bundle, trainer, loader, join(root, 'scripts', 'sea', 'cache-accepted.cjs'), fileURLToPath(import.meta.url)]) digest.update(readFileSync(f));
digest.update(nodeBin).update(String(statSync(nodeBin).mtimeMs));
const digestHex = digest.digest('hex');

/** Train the code cache with the node binary the executable is made from, under its default V8 flags. */
function trainCodeCache(cache) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  try {
    execFileSync(nodeBin, [trainer, bundle, cache], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 300_000 });
  } catch (err) {
    process.stderr.write(String(err.stderr ?? err.message));
    throw new Error('build: training the code cache failed (see above)');
  }
  // A fresh process must accept it, or the executable would silently start without it.
  const accepted = execFileSync(nodeBin, [join(root, 'scripts', 'sea', 'cache-accepted.cjs'), bundle, cache], { env, encoding: 'utf8' });
  if (accepted !== 'true') throw new Error('build: V8 rejects the trained code cache in a fresh process');
}

/**
 * The code cache asset: V8 copies a cache that is not 8-byte aligned in memory before deserialising it
 * (AlignedCachedData), and getRawAsset() points straight into the executable's mapping, at whatever offset
 * the blob layout gives the asset: ~690 KB copied, ~170 page faults on every start. So the asset's first byte
 * says how many bytes (1-8) precede the cache, chosen so that the cache starts on an 8-byte boundary; the
 * asset is always 8 bytes longer than the cache, so changing the pad moves nothing else.
 */
function cacheAsset(cache, pad) {
  const out = Buffer.alloc(cache.length + 8);
  out[0] = pad;
  cache.copy(out, pad);
  return out;
}

/** Blob + postject into a copy of the node binary; returns the copy's path. */
function makeExecutable(seaConfig, blob) {
  try {
    execFileSync(nodeBin, ['--experimental-sea-config', seaConfig], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    process.stderr.write(String(err.stderr ?? ''));
    throw new Error('build: making the SEA blob failed (see above)');
  }
  const tmp = `${exe}.tmp`;
  rmSync(tmp, { force: true });
  copyFileSync(nodeBin, tmp);
  chmodSync(tmp, 0o755);
  const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js');
  execFileSync(nodeBin, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return tmp;
}

/** File offset of the code cache inside the executable (the same as its address modulo the page size). */
function cacheOffset(executable, cache) {
  const at = readFileSync(executable).indexOf(cache.subarray(0, 4096));
  if (at < 0) throw new Error(`build: the code cache is not in ${executable}`);
  return at;
}

if (existsSync(exe) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digestHex) {
  console.log(`build: ${exe} is up to date`);
} else {
  const blob = join(work, 'sea-prep.blob');
  const seaConfig = join(work, 'sea-config.json');
  const cache = join(work, 'agent.cache');
  const cacheWithPad = join(work, 'agent.cache.asset');
  trainCodeCache(cache);
  // Stored already wrapped as a CommonJS module: the loader compiles it as is (a concatenation would be
  // copied once more, in the young generation, before V8 compiles it). The loader decodes it as latin1,
  // exact only for ASCII, which esbuild emits (non-ASCII characters are escaped).
  const wrapped = join(work, 'greengrass-firstboot.wrapped.cjs');
  const source = nodeModule.wrap(readFileSync(bundle, 'utf8'));
  if (!/^[\x00-\x7f]*$/.test(source)) throw new Error('build: the bundle is not ASCII; the loader decodes it as latin1');
  writeFileSync(wrapped, source);
  writeFileSync(seaConfig, JSON.stringify({ main: loader, output: blob, disableExperimentalSEAWarning: true, assets: { 'agent.cjs': wrapped, 'agent.cache': cacheWithPad } }));
  const cacheBytes = readFileSync(cache);
  writeFileSync(cacheWithPad, cacheAsset(cacheBytes, 8));
  let tmp = makeExecutable(seaConfig, blob);
  let at = cacheOffset(tmp, cacheBytes);
  if (at % 8 !== 0) {
    // With pad 8 the asset starts 8 bytes before the cache; a pad of 8 - at % 8 aligns it and moves nothing else.
    writeFileSync(cacheWithPad, cacheAsset(cacheBytes, 8 - (at % 8)));
    tmp = makeExecutable(seaConfig, blob);
    at = cacheOffset(tmp, cacheBytes);
    if (at % 8 !== 0) throw new Error(`build: the code cache landed at offset ${at}, not 8-byte aligned`);
  }
  renameSync(tmp, exe);
  writeFileSync(stamp, digestHex);
}

// Smoke check: --version from the executable, with no node on PATH.
const version = execFileSync(exe, ['--version'], { env: { PATH: '/nonexistent' }, encoding: 'utf8' }).trim();
if (version !== pkg.version) throw new Error(`build: ${exe} --version printed ${JSON.stringify(version)}, expected ${pkg.version}`);
// The executable's mtime says "built from the sources as of now", also when it was up to date: the tests
// (harness/agent-exe.ts) refuse to run an executable older than a source file.
const now = new Date();
utimesSync(exe, now, now);
const mb = (statSync(exe).size / 1024 / 1024).toFixed(1);
console.log(`build: ${exe} ${version} (${mb} MiB, bundle ${(statSync(bundle).size / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms`);
