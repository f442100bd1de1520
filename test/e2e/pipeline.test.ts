// The offline end-to-end pipeline (README's first command), asserted from what a user would check: the
// provisioning stand-in's records (the AWS IoT side), each clone's disk after power-off (sentinel, claim key,
// greengrass.service enablement, config.tlog) and its journal. Runs the whole thing: base image (cached),
// installer stand-in, stand-ins, `greengrass-image claim create` + `build --target qemu --format ova`, the clone
// boots, one of them from the OVA's disk.
//
// OFFLINE_E2E_REUSE_BAKE=<run dir> reuses an earlier run's bake (development only; CI runs everything).
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadOrCreateCa } from '../../standins/pki.ts';
import { freePort } from '../../offline/services.ts';
import { basename, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cacheRoot, REPO_ROOT } from '../../offline/base-image.ts';
import { runPipeline, formatReport } from '../../offline/pipeline.ts';
import { OVA_TARGET_BYTES } from '../../offline/report.ts';
import { readEvents, readRegistrations } from '../../offline/records.ts';
import { diskToRaw, guestPathExists, readGuestFile, statGuest } from '../../offline/qemu.ts';
import { thingNameFromTlog } from '../../offline/clone.ts';

t.setTimeout(55 * 60_000);

/** Command lines of live processes that name `dir` (a run's VMs and tools all take paths under it). */
function processesMentioning(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(dir)) found.push(`${pid}: ${cmd.slice(0, 120)}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

t.test('usage errors exit 2 with a clear message and start nothing', async (t) => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'offline', 'pipeline.ts'), '--no-such-flag'],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown argument --no-such-flag/);
  const r2 = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'offline', 'pipeline.ts'), '--reuse-bake', '/nonexistent-run'],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  t.equal(r2.status, 2);
  t.match(r2.stderr, /--reuse-bake \/nonexistent-run: no bake\.json there/);
});

t.test('a failing stage is named, keeps its logs, and the stand-ins are stopped', async (t) => {
  // A reused "bake" whose sealed image is not a qcow2: the first clone stage must fail, after the stand-ins ran.
  mkdirSync(join(cacheRoot(), 'pipeline-runs'), { recursive: true });
  const fake = mkdtempSync(join(cacheRoot(), 'pipeline-runs', 'fake-bake-'));
  writeFileSync(join(fake, 'not-a-disk.qcow2'), 'this is not a disk image\n');
  loadOrCreateCa(join(fake, 'ca'));
  const port = await freePort();
  writeFileSync(
    join(fake, 'bake.json'),
    JSON.stringify({
      sealedImage: join(fake, 'not-a-disk.qcow2'),
      caDir: join(fake, 'ca'),
      mqttPort: port,
      bakedAt: new Date().toISOString(),
    }),
  );
  const runDir = mkdtempSync(join(cacheRoot(), 'pipeline-runs', 'fail-'));
  const report = await runPipeline({ runDir, reuseBake: fake, quick: true, progress: () => {} });
  t.equal(report.ok, false);
  t.equal(report.failedStage, 'clones-first-boot');
  t.equal(report.exitCode, 5, 'tool failure exit code');
  t.match(report.error, /stage "clones-first-boot" failed: clone: overlay: qemu-img failed .*log: /);
  const logPath = /log: (\S+)/.exec(report.error ?? '')?.[1] ?? '';
  t.ok(existsSync(logPath), "the failing command's log is kept");
  t.match(readFileSync(logPath, 'utf8'), /qemu-img create/);
  t.ok(existsSync(join(runDir, 'report.json')), 'report.json written');
  t.ok(existsSync(join(runDir, 'logs', 'provisioning-standin.log')), 'stand-in logs kept');
  t.same(report.stages.map((s) => `${s.name}:${s.ok}`).slice(-1), ['clones-first-boot:false']);
  const refused = await new Promise<boolean>((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), res(false)));
    s.once('error', () => res(true));
  });
  t.ok(refused, 'the provisioning stand-in was stopped');
  // clone-ova boots beside the failing clone-a (from the OVA's disk, which converts): it must not outlive the run.
  await new Promise((r) => setTimeout(r, 1000));
  t.same(processesMentioning(runDir), [], 'no VM or other process of the run is left');
  t.match(formatReport(report), /FAILED at stage "clones-first-boot"/);
});

t.test('offline pipeline: bake, six clone boots, each clone provisions itself exactly once', async (t) => {
  mkdirSync(join(cacheRoot(), 'pipeline-runs'), { recursive: true });
  const runDir = mkdtempSync(join(cacheRoot(), 'pipeline-runs', 'e2e-'));
  const lines: string[] = [];
  const report = await runPipeline({
    runDir,
    ...(process.env.OFFLINE_E2E_REUSE_BAKE ? { reuseBake: process.env.OFFLINE_E2E_REUSE_BAKE } : {}),
    progress: (l) => {
      lines.push(l);
      t.comment(l);
    },
  });
  t.comment(formatReport(report));
  t.equal(report.failedStage, null, `no stage failed (${report.error ?? ''}); logs in ${runDir}`);
  t.equal(report.exitCode, 0);
  t.ok(existsSync(join(runDir, 'report.json')), 'report.json kept in the run dir');
  t.ok(
    lines.some((l) => /still running|waiting for greengrass-firstboot/.test(l)),
    'progress lines during long steps',
  );

  // The AWS IoT side: exactly one registration per clone name, none for the template, no takeovers.
  const regs = readRegistrations(report.recordsFile);
  t.same(regs.map((r) => r.thingName).sort(), ['branch-017', 'branch-019', 'branch-020'], 'ThingNames registered');
  t.equal(new Set(regs.map((r) => r.certificateId)).size, 3, 'each Thing has its own certificate');
  const events = readEvents(report.recordsFile);
  t.equal(events.filter((e) => e.event === 'takeover').length, 0, 'no Thing got a second certificate');
  t.ok(
    regs.every((r) => r.parameters.ThingName === r.thingName),
    'templateParameters.ThingName is the clone hostname',
  );

  // Each clone's disk, read again here (not from the pipeline's own summary).
  const inspect = join(runDir, 'test-inspect.log');
  const disk = async (id: string) => {
    const raw = join(runDir, `test-${id}.raw`);
    await diskToRaw(join(runDir, 'clones', `${id}.qcow2`), raw, inspect);
    t.teardown(() => rmSync(raw, { force: true }));
    return raw;
  };
  for (const [id, name] of [
    ['clone-a', 'branch-017'],
    ['clone-c', 'branch-019'],
    ['clone-ova', 'branch-020'],
  ] as const) {
    const raw = await disk(id);
    const sentinel = await readGuestFile(raw, '/var/lib/greengrass-firstboot/provisioned.json', inspect);
    t.ok(sentinel, `${id}: sentinel written`);
    t.match(sentinel ?? '', name, `${id}: sentinel names ${name}`);
    t.notOk(
      await guestPathExists(raw, '/greengrass/v2/claim-certs/claim.private.pem.key', inspect),
      `${id}: claim private key is gone`,
    );
    t.ok(
      await guestPathExists(raw, '/etc/systemd/system/multi-user.target.wants/greengrass.service', inspect),
      `${id}: greengrass.service enabled`,
    );
    t.equal(
      thingNameFromTlog((await readGuestFile(raw, '/greengrass/v2/config/config.tlog', inspect)) ?? ''),
      name,
      `${id}: config.tlog system.thingName`,
    );
    const key = await statGuest(raw, '/greengrass/v2/privKey.key', inspect);
    t.equal(key && key.mode & 0o077, 0, `${id}: device private key is not group/world readable`);
  }
  const ovaJournal = readFileSync(join(runDir, 'clones', 'clone-ova.boot1.journal.txt'), 'utf8');
  t.match(
    ovaJournal,
    /OVF environment property thing-name \(ovf-env\.xml on \/dev\/sr0\)/,
    'clone-ova: named by the ISO transport',
  );
  // The OVA in the run dir, as an importer reads it: GNU tar's order and qemu-img on its disk.
  const ova = report.ova!;
  t.ok(ova && existsSync(ova.path), 'the OVA is in the run dir');
  // Named as build names an image by default: family, nucleus version, UTC build date and time.
  const image = basename(ova.path, '.ova');
  t.match(image, /^greengrass-golden-\d+\.\d+\.\d+-\d{8}-\d{6}$/, `the image has a versioned name (${image})`);
  t.same(
    spawnSync('tar', ['-tf', ova.path], { encoding: 'utf8' }).stdout.trim().split('\n'),
    [`${image}.ovf`, `${image}.mf`, `${image}-disk1.vmdk`],
    'OVA entries: descriptor, manifest, disk',
  );
  t.ok(ova.bytes < OVA_TARGET_BYTES, `the OVA (${ova.bytes} bytes) is under 300 MB`);
  t.ok(ova.bytes < ova.sealedDiskBytes, 'and smaller than the sealed qcow2');
  t.match(
    formatReport(report),
    /OVA: .*\.ova: [\d.]+ MiB, (under|OVER) the 300 MB target \(sealed qcow2 [\d.]+ MiB/,
    'the report shows both sizes',
  );

  const rawT = await disk('clone-template');
  t.notOk(
    await readGuestFile(rawT, '/var/lib/greengrass-firstboot/provisioned.json', inspect),
    'template-hostname clone: no sentinel',
  );
  t.ok(
    await guestPathExists(rawT, '/greengrass/v2/claim-certs/claim.private.pem.key', inspect),
    'template-hostname clone: claim key untouched',
  );

  // Journals: greengrass.service really started on a provisioned clone; the second boot skipped the unit;
  // the template clone's unit failed permanently (exit 3) without restarting into a loop.
  const jA2 = readFileSync(join(runDir, 'clones', 'clone-a.boot2.journal.txt'), 'utf8');
  const jA1 = readFileSync(join(runDir, 'clones', 'clone-a.boot1.journal.txt'), 'utf8');
  t.match(jA1, /Started greengrass\.service/, 'clone-a first boot: greengrass.service started');
  // What an operator sees with `journalctl -u greengrass-firstboot` on the clone: the agent's sentences, from the
  // ThingName to the end, and no status message PID 1 could not attribute (`systemctl status` shows them all).
  const uA1 = readFileSync(join(runDir, 'clones', 'clone-a.boot1.unit-journal.txt'), 'utf8');
  t.match(uA1, /greengrass-firstboot\[\d+\]: ThingName branch-017 taken from the hostname/, 'journalctl -u: the name');
  t.match(
    uA1,
    /greengrass-firstboot\[\d+\]: Provisioned as branch-017; \/var\/lib\/greengrass-firstboot\/provisioned\.json written/,
    'journalctl -u: the outcome',
  );
  // The QEMU boot harness, as the clones used it: the name from the kernel command line, a DHCP lease from QEMU's
  // user network before network-online.target (the unit orders after it), and every VM powering itself off.
  t.match(jA1, /Hostname set to <branch-017>/, 'clone-a: hostname from systemd.hostname= on the kernel command line');
  const lease = jA1.search(/DHCPv4 address 10\.0\.2\.15\/24, gateway 10\.0\.2\.2/);
  t.ok(lease >= 0, 'clone-a: DHCP lease from the user-mode network, gateway 10.0.2.2');
  t.ok(
    lease < jA1.indexOf('Finished systemd-networkd-wait-online.service') &&
      jA1.indexOf('Finished systemd-networkd-wait-online.service') <
        jA1.indexOf('Reached target network-online.target'),
    'clone-a: network-online.target only after the lease, through systemd-networkd-wait-online',
  );
  t.same(
    report.clones.filter((c) => c.powerOff.code !== 0 || c.powerOff.timedOut).map((c) => `${c.id}.boot${c.boot}`),
    [],
    'every clone boot ended with QEMU exiting by itself after the ACPI powerdown',
  );
  for (const id of ['clone-a.boot1', 'clone-c.boot1', 'clone-ova.boot1', 'clone-dup.boot1'])
    t.notMatch(
      readFileSync(join(runDir, 'clones', `${id}.journal.txt`), 'utf8'),
      /Cannot find unit for notify message/,
      `${id}: PID 1 attributed every notify message`,
    );
  const lastBoot =
    jA2
      .split(/^-- Boot [0-9a-f]+ --$/m)
      .filter((p) => p.trim())
      .pop() ?? '';
  t.match(
    lastBoot,
    /greengrass-firstboot\.service - .* was skipped because of an unmet condition check \(ConditionPathExists=!\/var\/lib\/greengrass-firstboot\/provisioned\.json\)/,
    'second boot: unit skipped by its condition',
  );
  t.notMatch(lastBoot, /greengrass-firstboot\[\d+\]/, 'second boot: the agent did not run');
  t.match(lastBoot, /Started greengrass\.service/, 'second boot: greengrass.service starts on its own');
  const jT = readFileSync(join(runDir, 'clones', 'clone-template.boot1.journal.txt'), 'utf8');
  t.match(
    jT,
    /greengrass-firstboot\.service: Main process exited, code=exited, status=3/,
    'template clone: permanent refusal (exit 3)',
  );
  t.notMatch(jT, /greengrass-firstboot\.service: Scheduled restart job/, 'template clone: no restart loop');
  t.match(jT, /golden-template/, 'template clone: the refusal names the template hostname');

  // A second VM named like clone-a (a working core) was refused by the stack's pre-provisioning hook, as IoT
  // would refuse it: nothing registered under its name, its claim kept, and its journal says why.
  const rawD = await disk('clone-dup');
  t.notOk(
    await readGuestFile(rawD, '/var/lib/greengrass-firstboot/provisioned.json', inspect),
    'duplicate-name clone: no sentinel',
  );
  t.ok(
    await guestPathExists(rawD, '/greengrass/v2/claim-certs/claim.private.pem.key', inspect),
    'duplicate-name clone: claim kept',
  );
  const jD = readFileSync(join(runDir, 'clones', 'clone-dup.boot1.journal.txt'), 'utf8');
  t.match(
    jD,
    /greengrass-firstboot\.service: Main process exited, code=exited, status=3/,
    'duplicate-name clone: permanent refusal (exit 3)',
  );
  t.notMatch(jD, /greengrass-firstboot\.service: Scheduled restart job/, 'duplicate-name clone: no retry loop');
  t.match(
    jD,
    /greengrass-firstboot\[\d+\]: .*pre-provisioning hook/i,
    'duplicate-name clone: the journal names the hook refusal',
  );
  t.equal(
    regs.filter((r) => r.thingName === 'branch-017').length,
    1,
    'branch-017 registered once: the duplicate took nothing',
  );
  t.match(
    formatReport(report),
    /journalctl -u greengrass-firstboot on clone-dup/,
    "the report quotes the refused clone's journal",
  );

  // The clone booted while the provisioning stand-in was down registered only after it was back.
  const restart = events.filter((e) => e.event === 'listening').map((e) => Date.parse(e.at));
  const c = regs.find((r) => r.thingName === 'branch-019')!;
  t.ok(
    restart.length >= 2 && Date.parse(c.time) > restart[restart.length - 1],
    'branch-019 registered after the stand-in restarted',
  );
  const jC = readFileSync(join(runDir, 'clones', 'clone-c.boot1.journal.txt'), 'utf8');
  t.match(
    jC,
    /greengrass-firstboot\[\d+\]: The IoT data endpoint \S+ is unreachable \(.*ECONNREFUSED 10\.0\.2\.2:\d+.*\); retrying in/,
    'clone-c saw the endpoint down and retried',
  );
  const summary = report.clones.map(
    (x) =>
      `${x.id}#${x.boot} ${x.hostname ?? '<template>'} ${x.outcome} provisioned=${x.provisionedSeconds ?? '-'}s multi-user=${x.multiUserMs === null ? '-' : Math.round(x.multiUserMs / 1000)}s`,
  );
  t.comment(summary.join('\n'));
});
