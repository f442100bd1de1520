// The agent makes no process.stdin / process.stdout stream: execa's list of the standard streams is a lazy
// stand-in (scripts/sea/execa-standard-stream.mjs) that answers like execa's own module, and the agent
// writes its output with write(2) (agent/src/fd-write.ts).
import t from 'tap';
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { REPO, ensureBuilt, tcpListener } from '../../harness/agent-exe.ts';
import { createDeviceRoot } from '../../harness/device-root.ts';
import { buildInstallerStandin, stopStandinNucleus } from '../../harness/standin-installer.ts';

const STANDIN = join(REPO, 'scripts', 'sea', 'execa-standard-stream.mjs');
const REAL = join(REPO, 'node_modules', 'execa', 'lib', 'utils', 'standard-stream.js');

type StdModule = {
  STANDARD_STREAMS: unknown[];
  STANDARD_STREAMS_ALIASES: string[];
  isStandardStream: (s: unknown) => boolean;
  getStreamName: (fd: number) => string;
};

// A harness that records which of process.stdin/stdout/stderr are read, then runs `code`.
const SPY = `const touched = new Set();
for (const name of ['stdin', 'stdout', 'stderr']) {
  const d = Object.getOwnPropertyDescriptor(process, name);
  Object.defineProperty(process, name, { configurable: true, enumerable: d.enumerable, get() { touched.add(name); return d.get.call(process); } });
}
process.on('exit', () => require('node:fs').writeFileSync(process.env.TOUCHED, [...touched].sort().join(',')));`;

t.test('the stand-in answers exactly like execa\'s module', async (t) => {
  const real = (await import(pathToFileURL(REAL).href)) as StdModule;
  const standin = (await import(pathToFileURL(STANDIN).href)) as StdModule;
  const devNull = createWriteStream('/dev/null');
  t.teardown(() => devNull.destroy());
  const values: unknown[] = [process.stdin, process.stdout, process.stderr, new PassThrough(), devNull, { fd: 1 }, { fd: 2 }, null, undefined, 1, 'stdout'];
  for (const [i, v] of values.entries()) {
    t.equal(standin.isStandardStream(v), real.isStandardStream(v), `isStandardStream(values[${i}])`);
    t.equal(standin.STANDARD_STREAMS.indexOf(v), real.STANDARD_STREAMS.indexOf(v), `STANDARD_STREAMS.indexOf(values[${i}])`);
    t.equal(standin.STANDARD_STREAMS.includes(v), real.STANDARD_STREAMS.includes(v), `STANDARD_STREAMS.includes(values[${i}])`);
  }
  for (const fd of [0, 1, 2, 3, 4]) {
    t.equal(standin.STANDARD_STREAMS[fd], real.STANDARD_STREAMS[fd], `STANDARD_STREAMS[${fd}]`);
    t.equal(standin.getStreamName(fd), real.getStreamName(fd), `getStreamName(${fd})`);
  }
  t.equal(standin.STANDARD_STREAMS.length, real.STANDARD_STREAMS.length);
  t.same(standin.STANDARD_STREAMS_ALIASES, real.STANDARD_STREAMS_ALIASES);
});

t.test('bundled as the build bundles it, the stand-in reads no standard stream until one is asked for', async (t) => {
  // Bundled (CJS), as in the executable: a native ESM import of node:process would itself read all three.
  const built = await build({ entryPoints: [STANDIN], bundle: true, platform: 'node', format: 'cjs', write: false, logLevel: 'silent' });
  const dir = t.testdir({ 'standin.cjs': built.outputFiles[0]!.text });
  const touched = join(dir, 'touched');
  const code = `${SPY}
const m = require(${JSON.stringify(join(dir, 'standin.cjs'))});
const { PassThrough } = require('node:stream');
m.isStandardStream(new PassThrough()); m.isStandardStream({ fd: 7 }); m.getStreamName(1); void m.STANDARD_STREAMS_ALIASES;
if (process.env.ASK) m.STANDARD_STREAMS.indexOf(null);`;
  await promisify(execFile)(process.execPath, ['-e', code], { env: { TOUCHED: touched } });
  t.equal(readFileSync(touched, 'utf8'), '', 'nothing read');
  await promisify(execFile)(process.execPath, ['-e', code], { env: { TOUCHED: touched, ASK: '1' } });
  t.equal(readFileSync(touched, 'utf8'), 'stderr,stdin,stdout', 'the list itself reads all three');
});

t.test('a provisioning run of the built bundle makes neither process.stdin nor process.stdout', async (t) => {
  ensureBuilt();
  const jars = await buildInstallerStandin();
  const endpoint = await tcpListener();
  const root = createDeviceRoot({ hostname: 'gg-stdio-probe', jars, endpoint: { host: '127.0.0.1', port: endpoint.port } });
  t.teardown(async () => {
    await stopStandinNucleus(root.ggRoot, 10000);
    await endpoint.close();
    root.cleanup();
  });
  // The installer stand-in exits at once when the identity is in the init config (as in bench:agent).
  writeFileSync(root.templatePath, `${readFileSync(root.templatePath, 'utf8')}system:\n  thingName: gg-stdio-probe\n`);
  writeFileSync(join(root.ggRoot, 'thingCert.crt'), 'stand-in device certificate\n');
  writeFileSync(join(root.ggRoot, 'privKey.key'), 'stand-in device key\n', { mode: 0o600 });
  const touched = join(root.dir, 'touched');
  const bundle = join(REPO, '.cache', 'build', 'greengrass-firstboot.cjs');
  const harness = `${SPY}
const { Script } = require('node:vm'); const { wrap } = require('node:module'); const fs = require('node:fs');
process.argv.splice(1, 0, '/greengrass-firstboot'); // node -e: argv[1] is the first argument
const mod = { exports: {} };
new Script(wrap(fs.readFileSync(${JSON.stringify(bundle)}, 'utf8'))).runInThisContext().call(mod.exports, mod.exports, require, mod, '/x.cjs', '/');`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', harness, '--', 'run', '--config', root.configPath], {
    cwd: '/',
    env: { ...root.env, PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root.dir, TOUCHED: touched },
  });
  t.equal(stdout, 'provisioned as gg-stdio-probe\n', 'provisioned; its output reached stdout');
  // node:net reads process.stderr whenever a socket closes (Socket#_destroy), so stderr may be made.
  t.notMatch(readFileSync(touched, 'utf8'), /stdin|stdout/, 'process.stdin and process.stdout never made');
});
