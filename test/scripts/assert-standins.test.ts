// The node:assert stand-ins the build bundles for yargs, sonic-boom and thread-stream (scripts/sea/assert-*.{cjs,mjs}):
// they decide the same checks as node:assert, throw on the same inputs, and keep node:assert out of a start.
import t from 'tap';
import assert from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO, ensureBuilt } from '../../harness/agent-exe.ts';
import * as yargsAssert from '../../scripts/sea/assert-yargs.mjs';

const require = createRequire(import.meta.url);
const LAZY = join(REPO, 'scripts', 'sea', 'assert-lazy.cjs');
const lazy = require(LAZY) as typeof assert;

const PAIRS: Array<[unknown, unknown]> = [[1, 1], [1, 2], [undefined, undefined], ['package.json', undefined], [Number.NaN, Number.NaN], [0, -0], [null, undefined], [{}, {}]];
const throws = (fn: () => void): boolean => {
  try {
    fn();
    return false;
  } catch {
    return true;
  }
};

t.test('yargs stand-in: strictEqual / notStrictEqual throw exactly where node:assert does', async (t) => {
  for (const [a, b] of PAIRS) {
    t.equal(throws(() => yargsAssert.strictEqual(a, b)), throws(() => assert.strictEqual(a, b)), `strictEqual(${String(a)}, ${String(b)})`);
    t.equal(throws(() => yargsAssert.notStrictEqual(a, b)), throws(() => assert.notStrictEqual(a, b)), `notStrictEqual(${String(a)}, ${String(b)})`);
  }
  const err = t.throws(() => yargsAssert.notStrictEqual(undefined, undefined)) as Error & Record<string, unknown>;
  t.match(err, { code: 'ERR_ASSERTION', operator: 'notStrictEqual', actual: undefined, expected: undefined, generatedMessage: true });
  t.match(err.message, /Expected undefined to be strictly unequal to undefined/);
  t.throws(() => yargsAssert.strictEqual(1, 2, 'custom'), { message: 'custom', code: 'ERR_ASSERTION', generatedMessage: false });
});

t.test('lazy stand-in: passing checks decided without node:assert; failures and other functions are node:assert', async (t) => {
  for (const v of [1, 'x', {}, 0, '', null, undefined, false]) {
    t.equal(throws(() => lazy(v)), throws(() => assert(v)), `assert(${JSON.stringify(v)})`);
    t.equal(throws(() => lazy.ok(v)), throws(() => assert.ok(v)), `assert.ok(${JSON.stringify(v)})`);
  }
  t.throws(() => lazy(false, 'sonic.fd must be a number'), { message: 'sonic.fd must be a number', code: 'ERR_ASSERTION', operator: '==', actual: false, expected: true });
  t.throws(() => lazy(false, 'x'), assert.AssertionError, 'the AssertionError of node:assert');
  t.doesNotThrow(() => lazy.deepStrictEqual({ a: [1] }, { a: [1] }), 'other functions reach node:assert');
  t.throws(() => lazy.deepStrictEqual({ a: 1 }, { a: 2 }), assert.AssertionError);
  // In a fresh process: passing checks and the interop probes do not load node:assert.
  const probe = `const a = require(${JSON.stringify(LAZY)}); a(1); a.ok('x'); void a.__esModule; void a[Symbol.toStringTag];
process.stdout.write(String(process.moduleLoadList.includes('NativeModule assert')));`;
  t.equal(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }), 'false', 'node:assert not loaded');
});

t.test('the built bundle starts without loading node:assert', async (t) => {
  ensureBuilt();
  const bundle = join(REPO, '.cache', 'build', 'greengrass-firstboot.cjs');
  // Run the bundle as the executable's loader does (module wrapper, argv of a single executable) and report what loaded.
  const harness = `const { Script } = require('node:vm'); const { wrap } = require('node:module'); const fs = require('node:fs');
process.on('exit', () => fs.writeSync(3, String(process.moduleLoadList.includes('NativeModule assert'))));
process.argv.splice(1, 0, '/greengrass-firstboot'); // node -e: argv[1] is already the first argument
const mod = { exports: {} };
new Script(wrap(fs.readFileSync(${JSON.stringify(bundle)}, 'utf8'))).runInThisContext().call(mod.exports, mod.exports, require, mod, '/x.cjs', '/');`;
  const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version;
  // Each start must also have done its job (a bundle that failed to load would load nothing either).
  const cases: Array<[string[], number, (r: { stdout: string; stderr: string }) => void]> = [
    [['--version'], 0, (r) => t.equal(r.stdout.trim(), version, '--version prints the version')],
    [['--help'], 0, (r) => t.match(r.stdout, /greengrass-firstboot run/, '--help lists the commands')],
    [['status', '--config', '/nonexistent/agent.yaml'], 3, (r) => t.match(r.stderr, /nonexistent\/agent\.yaml/, 'status names the missing config')],
  ];
  for (const [args, code, check] of cases) {
    // fd 3: the exit hook's report, apart from the agent's own output
    const r = spawnSync(process.execPath, ['-e', harness, '--', ...args], { cwd: '/', encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    t.equal(r.status, code, `${args.join(' ')}: exit ${code}`);
    check({ stdout: r.stdout, stderr: r.stderr });
    t.equal(r.output[3], 'false', `${args.join(' ')}: node:assert not loaded`);
  }
});
