// The build's yargs trim (scripts/build-plugins.mjs, noVersionGuess): yargs() no longer searches the directories
// above the executable for a package.json to guess a version; the CLI sets its own. Same output, no directory reads.
import t from 'tap';
import { build, type Plugin } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from '../../harness/agent-exe.ts';

const { noVersionGuess } = (await import(join(REPO, 'scripts', 'build-plugins.mjs'))) as { noVersionGuess: Plugin };

// Used the way agent/src/cli.ts uses it; counts the directory reads yargs makes before printing.
const ENTRY = `import yargs from 'yargs';
const fs = require('node:fs');
let reads = 0;
const readdirSync = fs.readdirSync;
fs.readdirSync = (...a) => { reads++; return readdirSync(...a); };
process.on('exit', () => process.stderr.write('readdir ' + reads + '\\n'));
yargs(process.argv.slice(2)).scriptName('cli').command('run', 'does it', {}, () => {}).version('1.2.3').help().exitProcess(false).parse();
`;

async function bundle(dir: string, name: string, plugins: Plugin[]): Promise<string> {
  const out = join(dir, name);
  await build({
    stdin: { contents: ENTRY, resolveDir: REPO, sourcefile: 'entry.mjs', loader: 'js' },
    bundle: true, platform: 'node', format: 'cjs', outfile: out, logLevel: 'silent', plugins,
    // as in scripts/build.mjs: yargs' ESM shim finds itself through import.meta.url
    define: { 'import.meta.url': '__url' }, banner: { js: `var __url = require('url').pathToFileURL(__filename).href;` },
  });
  return out;
}

function runCounted(file: string, args: string[]): { stdout: string; reads: number } {
  const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8' });
  const m = /readdir (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${file} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return { stdout: r.stdout, reads: Number(m[1]) };
}

t.test('with the trim yargs reads no directory; --version and --help print exactly what they did', async (t) => {
  // The unpatched yargs reads at least the bundle's own directory looking for a package.json.
  const dir = t.testdir({});
  const trimmed = await bundle(dir, 'trimmed.cjs', [noVersionGuess]);
  const original = await bundle(dir, 'original.cjs', []);
  for (const args of [['--version'], ['--help'], ['run', '--help'], ['run']]) {
    const a = runCounted(trimmed, args);
    const b = runCounted(original, args);
    t.equal(a.stdout, b.stdout, `${args.join(' ')}: same output`);
    t.equal(a.reads, 0, `${args.join(' ')}: no directory read with the trim`);
    t.ok(b.reads > 0, `${args.join(' ')}: the unpatched yargs reads ${b.reads} directories (so the count would see one)`);
  }
  t.equal(runCounted(trimmed, ['--version']).stdout.trim(), '1.2.3');
});

t.test('the build refuses a yargs whose factory no longer has the line it removes', async (t) => {
  const dir = t.testdir({ 'node_modules': { yargs: { build: { lib: { 'yargs-factory.js': 'export const x = 1;\n' } } } } });
  const err = await build({
    stdin: { contents: `import { x } from './node_modules/yargs/build/lib/yargs-factory.js'; console.log(x);`, resolveDir: dir, loader: 'js' },
    bundle: true, write: false, logLevel: 'silent', plugins: [noVersionGuess],
  }).then(() => null, (e: Error) => e);
  t.match(err?.message, /no-version-guess: .*yargs-factory\.js no longer reads/);
});
