// The executable's trained code cache (scripts/sea/train.ts, scripts/sea/loader.cjs): the trainer makes a
// cache a fresh process accepts, holding more than Node's compile-only cache; it cleans up after itself and
// fails loudly when a command does not end as expected; and the executable still provisions when V8
// rejects the cache (other V8 flags on the device), only slower.
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, ensureBuilt, runAgent } from '../../harness/agent-exe.ts';
import { recordedNames, startWorld, stopDevice, worldRoot } from '../../harness/world.ts';
import { createDeviceRoot } from '../../harness/device-root.ts';

ensureBuilt();
const BUNDLE = join(REPO, '.cache', 'build', 'greengrass-firstboot.cjs');
const TRAINER = join(REPO, '.cache', 'build', 'sea-train.cjs');

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'gg-sea-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Does a fresh node process accept `cache` for `bundle` (compiled as the loader compiles it)? */
function accepted(bundle: string, cache: string, env: Record<string, string> = { NODE_OPTIONS: '' }): boolean {
  return execFileSync(process.execPath, [join(REPO, 'scripts', 'sea', 'cache-accepted.cjs'), bundle, cache], { encoding: 'utf8', env: { ...process.env, ...env } }) === 'true';
}

t.test('the trainer runs the agent commands and writes a cache a fresh process accepts', async (t) => {
  const dir = scratch(t);
  const tmp = join(dir, 'tmp');
  execFileSync('mkdir', [tmp]);
  const cache = join(dir, 'agent.cache');
  const r = spawnSync(process.execPath, [TRAINER, BUNDLE, cache], { env: { ...process.env, TMPDIR: tmp, NODE_OPTIONS: '' }, encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, r.stderr);
  t.ok(accepted(BUNDLE, cache), 'accepted by a fresh process');
  // Node's own SEA cache compiles without running; the trained one also holds what the commands compiled.
  const cold = join(dir, 'cold.cache');
  execFileSync(process.execPath, ['-e', `const fs = require('fs'); fs.writeFileSync(process.argv[2], new (require('vm').Script)(require('module').wrap(fs.readFileSync(process.argv[1], 'utf8'))).createCachedData());`, BUNDLE, cold]);
  t.ok(statSync(cache).size > 3 * statSync(cold).size, `trained ${statSync(cache).size} B > 3 x compile-only ${statSync(cold).size} B`);
  t.same(readdirSync(tmp), [], 'the training device tree is removed');
  t.notOk((r.stdout + r.stderr).includes('PRIVATE KEY'), 'no key material in its output');
});

t.test('a command that does not succeed fails the training, and nothing is left behind', async (t) => {
  const dir = scratch(t);
  const tmp = join(dir, 'tmp');
  execFileSync('mkdir', [tmp]);
  const fake = join(dir, 'bundle.cjs');
  // A stand-in bundle: every command succeeds except `run`, which exits 75 (transient) like a failed first boot.
  writeFileSync(fake, `process.exit(process.argv.includes('run') ? 75 : 0);\n`);
  const cache = join(dir, 'agent.cache');
  const r = spawnSync(process.execPath, [TRAINER, fake, cache], { env: { ...process.env, TMPDIR: tmp, NODE_OPTIONS: '' }, encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 1);
  t.match(r.stderr, /training: `run --config \S+agent\.yaml` exited 75/);
  t.notOk(existsSync(cache), 'no cache written');
  t.same(readdirSync(tmp), [], 'the training device tree is removed');
});

t.test('with the cache rejected (other V8 flags), the executable still provisions', async (t) => {
  const world = await startWorld();
  t.teardown(() => world.stop());
  const root = worldRoot(world, { hostname: 'gg-sea-rejected-01' });
  t.teardown(async () => {
    await stopDevice(root);
    root.cleanup();
  });
  // --max-semi-space-size changes V8's flag hash: the cache made under default flags is rejected.
  const env = { NODE_OPTIONS: '--max-semi-space-size=4' };
  t.notOk(accepted(BUNDLE, join(REPO, '.cache', 'build', 'agent.cache'), env), 'premise: V8 rejects the built cache under that flag');
  const v = await runAgent(root, ['--version'], { ...env, GREENGRASS_FIRSTBOOT_REPORT_CODE_CACHE: '1' });
  t.equal(v.stderr, 'code cache rejected\n', 'the executable saw the rejection');
  t.equal(v.code, 0, v.stderr);
  t.equal(v.stdout.trim(), JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
  const r = await runAgent(root, ['run'], env);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'provisioned as gg-sea-rejected-01\n');
  t.same(world.prov.registrations.map((x) => x.thingName), ['gg-sea-rejected-01'], 'registered once, under its hostname');
  t.same(recordedNames(root), ['gg-sea-rejected-01'], 'the nucleus recorded it');
  t.ok(existsSync(root.sentinel), 'sentinel written');
});

t.test('the source asset is the bundle wrapped exactly as the trainer compiles it (so the cache applies)', async (t) => {
  const { wrap } = (await import('node:module')).default;
  const asset = readFileSync(join(REPO, '.cache', 'build', 'greengrass-firstboot.wrapped.cjs'), 'utf8');
  t.equal(asset, wrap(readFileSync(BUNDLE, 'utf8')));
  t.match(readFileSync(join(REPO, '.cache', 'build', 'sea-config.json'), 'utf8'), /"agent\.cjs":"[^"]*greengrass-firstboot\.wrapped\.cjs"/);
});

t.test('the code cache sits 8-byte aligned in the executable, so V8 reads it in place instead of copying it', async (t) => {
  const cache = readFileSync(join(REPO, '.cache', 'build', 'agent.cache'));
  const exe = readFileSync(join(REPO, 'dist', 'greengrass-firstboot'));
  const at = exe.indexOf(cache.subarray(0, 4096));
  t.ok(at > 0, 'the cache is in the executable');
  // A LOAD segment maps file offsets to addresses congruent modulo its (page) alignment: the address is aligned too.
  t.equal(at % 8, 0, `cache at file offset ${at}`);
  // The asset is [k][k-1 zero bytes][cache][8-k zero bytes]: its start is the last non-zero byte before the cache.
  let k = 1;
  while (k < 8 && exe[at - k] === 0) k++;
  t.equal(exe[at - k], k, 'the asset\'s first byte is the number of bytes before the cache (what the loader skips)');
  t.same(exe.subarray(at, at + cache.length), cache, 'followed by the cache, byte for byte');
  const root = createDeviceRoot();
  t.teardown(() => root.cleanup());
  const v = await runAgent(root, ['--version'], { GREENGRASS_FIRSTBOOT_REPORT_CODE_CACHE: '1' });
  t.equal(v.code, 0);
  t.equal(v.stderr, 'code cache accepted\n', 'the loader hands V8 the cache where it starts, and V8 takes it');
});

t.test('the source asset is ASCII, so the loader\'s latin1 decoding is exact', async (t) => {
  const asset = readFileSync(join(REPO, '.cache', 'build', 'greengrass-firstboot.wrapped.cjs'));
  t.equal(asset.findIndex((b) => b > 0x7f), -1);
});
