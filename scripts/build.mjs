#!/usr/bin/env node
// npm run build: bundle the first-boot agent (agent/src/main.ts) with esbuild into one CommonJS file, then
// make the single executable dist/greengrass-firstboot from the LOCAL node binary: a Node 20 single
// executable application (sea-config blob + postject), the mechanism @yao-pkg/pkg's SEA mode uses. Nothing
// is downloaded. Node's own code cache (useCodeCache) is the only start-up aid: dependencies are bundled as
// published, nothing inside them is replaced.
// Idempotent: the executable is rebuilt only when the bundle or the node binary changed.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
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
  entryPoints: [join(root, 'agent/src/main.ts')],
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
    // ESM dependencies (yargs) read import.meta.url, which a CommonJS bundle does not have.
    'import.meta.url': '__gg_import_meta_url',
  },
  banner: { js: 'var __gg_import_meta_url = require("url").pathToFileURL(process.execPath).href;' },
});

const exe = join(dist, 'greengrass-firstboot');
const stamp = join(work, 'sea.stamp');
const nodeBin = process.execPath;
const digestHex = createHash('sha256')
  .update(readFileSync(bundle))
  .update(readFileSync(fileURLToPath(import.meta.url)))
  .update(nodeBin)
  .update(String(statSync(nodeBin).mtimeMs))
  .digest('hex');

function makeExecutable() {
  const blob = join(work, 'sea-prep.blob');
  const seaConfig = join(work, 'sea-config.json');
  writeFileSync(
    seaConfig,
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }),
  );
  try {
    execFileSync(nodeBin, ['--experimental-sea-config', seaConfig], {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
  } catch (err) {
    process.stderr.write(String(err.stderr ?? ''));
    throw new Error('build: making the SEA blob failed (see above)', { cause: err });
  }
  const tmp = `${exe}.${process.pid}.tmp`; // per process: two builds at once must not write one file
  rmSync(tmp, { force: true });
  copyFileSync(nodeBin, tmp);
  chmodSync(tmp, 0o755);
  const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js');
  execFileSync(
    nodeBin,
    [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  renameSync(tmp, exe);
  writeFileSync(stamp, digestHex);
}

if (existsSync(exe) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digestHex) {
  console.log(`build: ${exe} is up to date`);
} else {
  makeExecutable();
}

// Smoke check: --version from the executable, with no node on PATH.
const version = execFileSync(exe, ['--version'], { env: { PATH: '/nonexistent' }, encoding: 'utf8' }).trim();
if (version !== pkg.version)
  throw new Error(`build: ${exe} --version printed ${JSON.stringify(version)}, expected ${pkg.version}`);
// The executable's mtime says "built from the sources as of now", also when it was up to date: the tests
// (harness/agent-exe.ts) refuse to run an executable older than a source file.
const now = new Date();
utimesSync(exe, now, now);
const mb = (statSync(exe).size / 1024 / 1024).toFixed(1);
console.log(
  `build: ${exe} ${version} (${mb} MiB, bundle ${(statSync(bundle).size / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms`,
);
