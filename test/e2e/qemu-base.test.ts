// The offline base image: built once per recipe and cached, with the files its recipe configures, read from the
// disk (no mount, no boot). Also: a command failure names its stage and keeps its log. Booting this image is the
// pipeline test's part (test/e2e/pipeline.test.ts): its clones are this image plus the bake.
import t from 'tap';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBaseImage, cachedBaseImage, defaultRecipe, recipeKey } from '../../offline/base-image.ts';
import { diskToRaw, readGuestFile, statGuest, guestPathExists } from '../../offline/qemu.ts';
import { run } from '../../offline/proc.ts';
import { ToolError } from '../../common/errors.ts';

t.setTimeout(30 * 60_000);

t.test('recipe key is a content hash: any recipe change gives a new cache dir', async (t) => {
  const r = defaultRecipe();
  t.match(recipeKey(r), /^[0-9a-f]{16}$/);
  t.equal(recipeKey({ ...r, packages: [...r.packages].reverse() }), recipeKey(r), 'package order does not matter');
  t.not(recipeKey({ ...r, packages: [...r.packages, 'curl'] }), recipeKey(r), 'an extra package changes the key');
  t.not(
    recipeKey({ ...r, configureSha256: '0'.repeat(64) }),
    recipeKey(r),
    'a changed configure script changes the key',
  );
});

t.test('a failing command names its stage and keeps its log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'offline-run-'));
  const log = join(dir, 'x.log');
  const err = await run('sh', ['-c', 'echo boom-output; exit 7'], { stage: 'demo stage', logFile: log }).catch(
    (e: unknown) => e,
  );
  t.type(err, ToolError);
  t.match((err as Error).message, /demo stage: sh failed \(exit 7\); log: .*x\.log/);
  t.match((err as Error).message, /boom-output/);
  t.match(readFileSync(log, 'utf8'), /boom-output/);
  const missing = await run('no-such-tool-xyz', [], { stage: 'other', logFile: log }).catch((e: unknown) => e);
  t.match((missing as Error).message, /other: cannot run no-such-tool-xyz/);
});

t.test('the base image is built once, cached, and holds what the recipe configures', async (t) => {
  const t0 = Date.now();
  const base = await ensureBaseImage();
  t.ok(cachedBaseImage(), 'base image is cached after the build');
  t.comment(
    `base image ${base.dir}: build ${base.buildSeconds} s (this call ${Math.round((Date.now() - t0) / 1000)} s)`,
  );
  for (const f of [base.disk, base.kernel, base.initrd]) t.ok(existsSync(f), `${f} exists`);

  // Read from the disk itself, without booting it: booting is the pipeline test's part (its clones are this
  // image plus the bake, and it checks their hostname, DHCP lease, network-online and power-off).
  const dir = mkdtempSync(join(tmpdir(), 'offline-base-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const raw = join(dir, 'disk.raw');
  const log = join(dir, 'inspect.log');
  await diskToRaw(base.disk, raw, log);
  t.equal(
    (await readGuestFile(raw, '/etc/hostname', log))?.trim(),
    'golden-template',
    'static hostname of the base is golden-template',
  );
  const sudoers = await statGuest(raw, '/etc/sudoers.d/packer', log);
  t.same(
    sudoers && { mode: sudoers.mode & 0o777, uid: sudoers.uid },
    { mode: 0o440, uid: 0 },
    'build account sudoers drop-in is root 0440',
  );
  t.ok(await guestPathExists(raw, '/etc/ssh/sshd_config.d/10-offline-base.conf', log), 'sshd password auth drop-in');
  t.notOk(await guestPathExists(raw, '/no/such/file', log), 'missing paths are reported missing');
});
