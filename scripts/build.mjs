#!/usr/bin/env node
// npm run build: bundle the first-boot agent (agent/src/cli.ts) with esbuild into one CJS file,
// then make the single executable dist/greengrass-firstboot from the LOCAL node binary (Node 20
// single-executable application: --experimental-sea-config + postject; nothing is downloaded).
// (No V8 code cache: it costs ~8 MB of RSS for a few ms of start-up.)
// Idempotent: the executable is rebuilt only when the bundle or the node binary changed.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const work = join(root, '.cache', 'build');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const started = Date.now();

mkdirSync(dist, { recursive: true });
mkdirSync(work, { recursive: true });

const bundle = join(work, 'greengrass-firstboot.cjs');
await build({
  entryPoints: [join(root, 'agent/src/cli.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: bundle,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: {
    __AGENT_VERSION__: JSON.stringify(pkg.version),
    // yargs' ESM shim uses import.meta.url to find itself; in the CJS bundle point it at the executable.
    'import.meta.url': '__gg_import_meta_url',
  },
  banner: { js: 'var __gg_import_meta_url = require("url").pathToFileURL(process.execPath).href;' },
});

const exe = join(dist, 'greengrass-firstboot');
const stamp = join(work, 'sea.stamp');
const nodeBin = process.execPath;
const digest = createHash('sha256').update(readFileSync(bundle)).update(nodeBin).update(String(statSync(nodeBin).mtimeMs)).update(readFileSync(fileURLToPath(import.meta.url))).digest('hex');

if (existsSync(exe) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) {
  console.log(`build: ${exe} is up to date`);
} else {
  const blob = join(work, 'sea-prep.blob');
  const seaConfig = join(work, 'sea-config.json');
  writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false }));
  execFileSync(nodeBin, ['--experimental-sea-config', seaConfig], { stdio: ['ignore', 'ignore', 'inherit'] });
  const tmp = `${exe}.tmp`;
  rmSync(tmp, { force: true });
  copyFileSync(nodeBin, tmp);
  chmodSync(tmp, 0o755);
  const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js');
  execFileSync(nodeBin, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  renameSync(tmp, exe);
  writeFileSync(stamp, digest);
}

// Smoke check: --version from the executable, with no node on PATH.
const version = execFileSync(exe, ['--version'], { env: { PATH: '/nonexistent' }, encoding: 'utf8' }).trim();
if (version !== pkg.version) throw new Error(`build: ${exe} --version printed ${JSON.stringify(version)}, expected ${pkg.version}`);
const mb = (statSync(exe).size / 1024 / 1024).toFixed(1);
console.log(`build: ${exe} ${version} (${mb} MiB, bundle ${(statSync(bundle).size / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms`);
