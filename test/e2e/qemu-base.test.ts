// The offline base image and the QEMU boot harness, checked the way a user would: boot a clone of the
// base image under TCG, see it reach multi-user.target, take its hostname from the kernel command line,
// get a DHCP address from QEMU's user network, power off cleanly over QMP; then read its journal and
// files from the disk afterwards (no mount). Also: a command failure names its stage and keeps its log.
import t from 'tap';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBaseImage, cachedBaseImage, defaultRecipe, recipeKey } from '../../offline/base-image.ts';
import { Vm, diskToRaw, guestJournal, readGuestFile, statGuest, guestPathExists } from '../../offline/qemu.ts';
import { MULTI_USER } from '../../offline/clone.ts';
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

t.test('base image boots under TCG: hostname from the kernel command line, DHCP, clean powerdown', async (t) => {
  const t0 = Date.now();
  const base = await ensureBaseImage();
  t.ok(cachedBaseImage(), 'base image is cached after the build');
  t.comment(
    `base image ${base.dir}: build ${base.buildSeconds} s (this call ${Math.round((Date.now() - t0) / 1000)} s)`,
  );
  for (const f of [base.disk, base.kernel, base.initrd]) t.ok(existsSync(f), `${f} exists`);

  const dir = mkdtempSync(join(tmpdir(), 'offline-qemu-'));
  // Disk copies are GiB-sized: removed when the test passed, kept (with the serial log) when it failed.
  t.teardown(() => {
    if (t.passing()) rmSync(dir, { recursive: true, force: true });
    else t.comment(`kept for inspection: ${dir}`);
  });
  const overlay = join(dir, 'clone.qcow2');
  const vm = await Vm.boot({
    name: 'harness',
    overlay,
    backingFile: base.disk,
    kernel: base.kernel,
    initrd: base.initrd,
    append: base.append,
    // systemd.wants= pulls network-online.target in, as greengrass-firstboot.service does on a clone.
    extraAppend: [
      'systemd.hostname=harness-check-01',
      'systemd.journald.forward_to_console=1',
      'systemd.wants=network-online.target',
    ],
    uuid: '6c1f3f4e-0000-4000-8000-00000000a001',
    serialLog: join(dir, 'serial.log'),
    runDir: dir,
    timeoutMs: 15 * 60_000,
  });
  const reached = await vm.waitForSerial(MULTI_USER, 12 * 60_000);
  const bootMs = Date.now() - vm.startedAt;
  t.ok(reached, 'multi-user.target reached (serial console)');
  t.comment(`boot to multi-user.target: ${(bootMs / 1000).toFixed(1)} s (TCG, 1 vCPU)`);
  const online = await vm.waitForSerial(
    /Reached target network-online\.target|Reached target Network is Online/,
    60_000,
  );
  t.ok(online, 'network-online.target reached');
  const exit = await vm.powerdown(120_000);
  t.equal(exit.timedOut, false, 'no hard timeout');
  t.equal(exit.code, 0, 'QEMU exited by itself after the ACPI powerdown');
  t.match(vm.serial(), /reboot: Power down|System Power Off|Powering off/, 'the guest powered itself off');

  const raw = join(dir, 'disk.raw');
  await diskToRaw(overlay, raw, join(dir, 'inspect.log'));
  const journal = await guestJournal(raw, dir, join(dir, 'inspect.log'));
  t.match(journal, /Hostname set to <harness-check-01>/, 'hostname came from systemd.hostname=');
  t.match(
    journal,
    /DHCPv4 address 10\.0\.2\.15\/24, gateway 10\.0\.2\.2/,
    'DHCP from the user-mode network, gateway 10.0.2.2',
  );
  t.match(
    journal,
    /Finished systemd-networkd-wait-online\.service/,
    'network-online.target waits for systemd-networkd-wait-online',
  );
  t.ok(
    journal.indexOf('DHCPv4 address') < journal.indexOf('Reached target network-online.target'),
    'network-online.target is reached only after the DHCP address',
  );
  t.equal(
    (await readGuestFile(raw, '/etc/hostname', join(dir, 'inspect.log')))?.trim(),
    'golden-template',
    'static hostname of the base is golden-template',
  );
  const machineId = (await readGuestFile(raw, '/etc/machine-id', join(dir, 'inspect.log')))?.trim();
  t.match(machineId, /^[0-9a-f]{32}$/, 'the clone committed its own machine-id');
  const sudoers = await statGuest(raw, '/etc/sudoers.d/packer', join(dir, 'inspect.log'));
  t.same(
    sudoers && { mode: sudoers.mode & 0o777, uid: sudoers.uid },
    { mode: 0o440, uid: 0 },
    'build account sudoers drop-in is root 0440',
  );
  t.ok(
    await guestPathExists(raw, '/etc/ssh/sshd_config.d/10-offline-base.conf', join(dir, 'inspect.log')),
    'sshd password auth drop-in',
  );
  t.notOk(await guestPathExists(raw, '/no/such/file', join(dir, 'inspect.log')), 'missing paths are reported missing');
});
