// execa bundled with the build's start-up trims (scripts/build-plugins.mjs: lazy standard streams, lazy
// human-signals / figures / node:v8) behaves as execa bundled without them, on the paths that use them.
import t from 'tap';
import { build, type Plugin } from 'esbuild';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../../harness/agent-exe.ts';

const PROBE = `import { execa } from 'execa';
(async () => {
const out = {};
// killed by a signal: execa describes it with human-signals
const killed = await execa('sh', ['-c', 'kill -TERM $$'], { reject: false });
out.killed = { signal: killed.signal, signalDescription: killed.signalDescription, message: killed.message.split('\\n')[0] };
// verbose lines carry figures' status icons
const lines = [];
await execa('sh', ['-c', 'echo hi; exit 3'], { reject: false, verbose: (line) => { lines.push(line.replace(/\\[[^\\]]*\\]/, '[time]').replace(/\\(done in [^)]*\\)/, '(done)')); } });
out.verbose = lines;
// ipcInput is checked with node:v8's serialize under 'advanced' serialization
try { await execa('node', ['-e', '0'], { ipcInput: () => 1, serialization: 'advanced' }); } catch (e) { out.ipc = e.message.split('\\n')[0]; }
// inherit: the real process.stdout is handed to the child
out.inherit = (await execa('sh', ['-c', 'echo to-stdout'], { stdout: 'inherit', reject: false })).exitCode;
process.stderr.write(JSON.stringify(out));
})();
`;

async function runBundled(dir: string, plugins: Plugin[]): Promise<{ stdout: string; result: unknown }> {
  const built = await build({
    stdin: { contents: PROBE, resolveDir: REPO, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'cjs', // as the agent's build
    target: 'node20',
    write: false,
    logLevel: 'silent',
    plugins,
  });
  const file = join(dir, `probe-${plugins.length}.cjs`);
  writeFileSync(file, built.outputFiles[0]!.text);
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [file], { cwd: REPO });
  return { stdout, result: JSON.parse(stderr) };
}

t.test('with and without the trims, execa answers the same', async (t) => {
  const { lazyStdio, lazyForExeca } = (await import(join(REPO, 'scripts', 'build-plugins.mjs'))) as { lazyStdio: Plugin; lazyForExeca: Plugin };
  const dir = t.testdir();
  const plain = await runBundled(dir, []);
  const trimmed = await runBundled(dir, [lazyStdio, lazyForExeca]);
  t.same(trimmed.result, plain.result);
  t.equal(trimmed.stdout, plain.stdout, 'stdout: inherit reached the same stream');
  // The probe really went down those paths.
  t.match(plain.result, { killed: { signal: 'SIGTERM', signalDescription: 'Termination' }, inherit: 0 });
  t.match((plain.result as { verbose: string[] }).verbose.join('\n'), /⚠|‼/, 'a status icon from figures (a failure not rejected: warning)');
  t.match((plain.result as { ipc: string }).ipc, /ipcInput/);
  t.equal(plain.stdout, 'to-stdout\n');
});
