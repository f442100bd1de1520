// One clone boot: boot the clone's disk under QEMU, wait for greengrass-firstboot.service's outcome on the
// serial console (journald forwards to it), power off cleanly, then read what a user would check from the
// disk: sentinel, claim key, greengrass.service enablement, config.tlog's system.thingName, the journal.
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vm, diskToRaw, guestJournal, guestPathExists, readGuestFile, sleep } from './qemu.ts';
import type { Progress } from './proc.ts';

/** Guest paths checked after a boot (from the production agent.yaml and the staging contract). */
export interface GuestPaths {
  sentinel: string;
  claimKey: string;
  claimCert: string;
  greengrassWantsLink: string;
  configTlog: string;
  templateHostnameFile: string;
  /** The device certificate the provisioning plugin wrote (the plugin's default path under the root). */
  deviceCert: string;
}

export interface CloneSpec {
  /** Clone id, used for file names (e.g. "clone-a"). */
  id: string;
  /** systemd.hostname= on the kernel command line; undefined = keep the template hostname. */
  hostname?: string;
  /** The ThingName the clone should take when it is not its hostname (an OVF environment names it). */
  expectedThingName?: string;
  /** Further QEMU arguments (an OVF environment CD-ROM). */
  qemuArgs?: string[];
  /** The clone's own disk (qcow2 overlay over the sealed image). */
  overlay: string;
  sealedImage: string;
  kernel: string;
  initrd: string;
  append: string;
  uuid: string;
  /** Boot number of this disk (1 = first boot). */
  boot: number;
  timeoutMs: number;
  memoryMiB?: number;
}

export type UnitOutcome = 'finished' | 'failed' | 'skipped' | 'timeout' | 'vm-exited';

export interface CloneBoot {
  id: string;
  hostname: string | null;
  /** The name it should register under: its hostname, or what its OVF environment says. */
  expectedThingName: string | null;
  boot: number;
  uuid: string;
  outcome: UnitOutcome;
  /** ms from QEMU start to multi-user.target (null if not seen). */
  multiUserMs: number | null;
  /** ms from QEMU start to the unit's outcome line on the console. */
  outcomeMs: number | null;
  /** Host time QEMU was started (ISO). */
  startedAt: string;
  serialLog: string;
  /** How QEMU ended after the ACPI powerdown: code 0 and not timed out when the guest powered itself off. */
  powerOff: { code: number | null; signal: string | null; timedOut: boolean };
  disk: {
    sentinel: string | null;
    claimKeyPresent: boolean;
    claimCertPresent: boolean;
    greengrassEnabled: boolean;
    configTlogThingName: string | null;
    guestHostname: string | null;
    machineId: string | null;
    /** /etc/greengrass-firstboot/template-hostname (written by the seal). */
    templateHostname: string | null;
    /** IoT's id of the device certificate on the disk (SHA-256 of its DER), null if there is none. */
    deviceCertificateId: string | null;
  };
  /** Exit statuses of greengrass-firstboot.service runs that failed, from the journal (3 = permanent refusal). */
  unitExitStatuses: number[];
  /** The whole journal on the disk (`journalctl -o short-iso`, every boot). */
  journalFile: string;
  /** `journalctl -u greengrass-firstboot.service` on the same files. */
  unitJournalFile: string;
}

const FIRSTBOOT = 'greengrass-firstboot\\.service';
export const OUTCOME_PATTERNS: Record<Exclude<UnitOutcome, 'timeout' | 'vm-exited'>, RegExp> = {
  finished: new RegExp(`Finished ${FIRSTBOOT}`),
  failed: new RegExp(
    `(Failed to start ${FIRSTBOOT}|${FIRSTBOOT}: Failed with result|${FIRSTBOOT}: Main process exited, code=exited, status=3)`,
  ),
  skipped: new RegExp(
    `${FIRSTBOOT} - .* was skipped because|Condition check resulted in .*${FIRSTBOOT}|${FIRSTBOOT} was skipped`,
  ),
};
export const MULTI_USER = /Reached target multi-user\.target|Reached target Multi-User System/;

export interface BootHooks {
  /** Called once the unit has started (the console shows "Starting greengrass-firstboot.service"). */
  onUnitStarting?: (vm: Vm) => Promise<void>;
  /**
   * After the unit's outcome, the VM keeps running until this holds (polled, at most `keepRunningMs`, default
   * 180 s): a real machine stays up, so what its services do after first boot (the nucleus reporting its status)
   * happens; the pipeline powers clones off early only to save time.
   */
  keepRunningUntil?: () => boolean;
  keepRunningMs?: number;
}

export async function bootClone(
  spec: CloneSpec,
  paths: GuestPaths,
  runDir: string,
  progress: Progress,
  hooks: BootHooks = {},
): Promise<CloneBoot> {
  const tag = `${spec.id}#${spec.boot}`;
  const serialLog = join(runDir, 'clones', `${spec.id}.boot${spec.boot}.serial.log`);
  rmSync(serialLog, { force: true });
  const extra = ['systemd.journald.forward_to_console=1', 'systemd.show_status=1'];
  if (spec.hostname) extra.push(`systemd.hostname=${spec.hostname}`);
  const startedAt = new Date();
  progress(`clone ${tag}: booting (hostname ${spec.hostname ?? '<template>'}, uuid ${spec.uuid})`);
  const vm = await Vm.boot({
    name: `${spec.id}-boot${spec.boot}`,
    overlay: spec.overlay,
    backingFile: spec.sealedImage,
    kernel: spec.kernel,
    initrd: spec.initrd,
    append: spec.append,
    extraAppend: extra,
    extraArgs: spec.qemuArgs,
    uuid: spec.uuid,
    memoryMiB: spec.memoryMiB ?? 1024,
    cpus: 1,
    serialLog,
    runDir: join(runDir, 'clones'),
    timeoutMs: spec.timeoutMs,
  });
  let outcome: UnitOutcome = 'timeout';
  let outcomeMs: number | null = null;
  let multiUserMs: number | null = null;
  let hookDone = !hooks.onUnitStarting;
  let lastBeat = Date.now();
  while (vm.running) {
    const text = vm.serial();
    if (multiUserMs === null && MULTI_USER.test(text)) {
      multiUserMs = Date.now() - startedAt.getTime();
      progress(`clone ${tag}: multi-user.target after ${(multiUserMs / 1000).toFixed(0)} s`);
    }
    if (!hookDone && new RegExp(`Starting ${FIRSTBOOT}`).test(text)) {
      hookDone = true;
      await hooks.onUnitStarting!(vm);
      continue;
    }
    const hit = (Object.keys(OUTCOME_PATTERNS) as (keyof typeof OUTCOME_PATTERNS)[]).find((k) =>
      OUTCOME_PATTERNS[k].test(text),
    );
    if (hit && hookDone) {
      outcome = hit;
      outcomeMs = Date.now() - startedAt.getTime();
      progress(`clone ${tag}: greengrass-firstboot ${hit} after ${(outcomeMs / 1000).toFixed(0)} s`);
      // A skipped/failed unit: give multi-user.target a moment so the journal has the whole boot.
      if (multiUserMs === null) {
        const m = await vm.waitForSerial(MULTI_USER, 60_000);
        if (m) multiUserMs = Date.now() - startedAt.getTime();
      }
      break;
    }
    if (Date.now() - lastBeat > 30_000) {
      lastBeat = Date.now();
      progress(
        `clone ${tag}: waiting for greengrass-firstboot (${Math.round((Date.now() - startedAt.getTime()) / 1000)} s)`,
      );
    }
    await sleep(500);
  }
  if (!vm.running && outcome === 'timeout') {
    const ex = await vm.exited;
    outcome = ex.timedOut ? 'timeout' : 'vm-exited';
  }
  if (hooks.keepRunningUntil && vm.running) {
    const until = Date.now() + (hooks.keepRunningMs ?? 180_000);
    while (vm.running && !hooks.keepRunningUntil() && Date.now() < until) await sleep(1000);
    progress(
      `clone ${tag}: ${hooks.keepRunningUntil() ? 'kept running until its services reported' : 'gave up waiting for its services to report'}`,
    );
  }
  // Let the journal reach the disk, then power off cleanly (ACPI).
  await sleep(2000);
  const exit = await vm.powerdown(120_000);
  progress(
    `clone ${tag}: powered off (${exit.timedOut ? 'killed at timeout' : exit.signal ? `killed ${exit.signal}` : `exit ${exit.code}`})`,
  );

  const work = join(runDir, 'clones', `${spec.id}.boot${spec.boot}.disk`);
  mkdirSync(work, { recursive: true });
  const raw = join(work, 'disk.raw');
  const log = join(runDir, 'clones', `${spec.id}.inspect.log`);
  await diskToRaw(spec.overlay, raw, log);
  const tlog = await readGuestFile(raw, paths.configTlog, log);
  const journal = await guestJournal(raw, work, log);
  const journalFile = join(runDir, 'clones', `${spec.id}.boot${spec.boot}.journal.txt`);
  writeFileSync(journalFile, journal);
  // What an operator types on the clone: entries attributed to the unit (by the sender's cgroup, OBJECT_SYSTEMD_UNIT
  // or PID 1's own messages about it), not lines picked by their identifier.
  const unitJournalFile = join(runDir, 'clones', `${spec.id}.boot${spec.boot}.unit-journal.txt`);
  writeFileSync(unitJournalFile, await guestJournal(raw, work, log, ['-u', 'greengrass-firstboot.service']));
  const result: CloneBoot = {
    id: spec.id,
    hostname: spec.hostname ?? null,
    expectedThingName: spec.expectedThingName ?? spec.hostname ?? null,
    boot: spec.boot,
    uuid: spec.uuid,
    outcome,
    multiUserMs,
    outcomeMs,
    startedAt: startedAt.toISOString(),
    serialLog,
    powerOff: { code: exit.code, signal: exit.signal, timedOut: exit.timedOut },
    disk: {
      sentinel: await readGuestFile(raw, paths.sentinel, log),
      claimKeyPresent: await guestPathExists(raw, paths.claimKey, log),
      claimCertPresent: await guestPathExists(raw, paths.claimCert, log),
      greengrassEnabled: await guestPathExists(raw, paths.greengrassWantsLink, log),
      configTlogThingName: tlog ? thingNameFromTlog(tlog) : null,
      guestHostname: (await readGuestFile(raw, '/etc/hostname', log))?.trim() ?? null,
      machineId: (await readGuestFile(raw, '/etc/machine-id', log))?.trim() || null,
      templateHostname: (await readGuestFile(raw, paths.templateHostnameFile, log))?.trim() || null,
      deviceCertificateId: certificateId(await readGuestFile(raw, paths.deviceCert, log)),
    },
    unitExitStatuses: [
      ...lastBootJournal(journal).matchAll(
        /greengrass-firstboot\.service: Main process exited, code=exited, status=(\d+)/g,
      ),
    ].map((m) => Number(m[1])),
    journalFile,
    unitJournalFile,
  };
  rmSync(work, { recursive: true, force: true });
  return result;
}

function certificateId(pem: string | null): string | null {
  if (!pem) return null;
  try {
    return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
  } catch {
    return null;
  }
}

/** The line journalctl prints between two boots of a whole-journal export. */
const BOOT_SEPARATOR = /^-- Boot [0-9a-f]+ --$/gm;

/** How many boots a whole-journal export holds. */
export function bootsInJournal(journal: string): number {
  if (journal.trim() === '') return 0;
  return (journal.match(BOOT_SEPARATOR) ?? []).length + 1;
}

/** The journal lines of the last boot on the disk. */
export function lastBootJournal(journal: string): string {
  const parts = journal.split(BOOT_SEPARATOR).filter((p) => p.trim() !== '');
  return parts[parts.length - 1] ?? '';
}

/**
 * The last system.thingName recorded in a nucleus config.tlog (one JSON object per line:
 * {"TS":..., "TP":["system","thingName"], "W":"changed", "V":"name"}).
 */
export function thingNameFromTlog(tlog: string): string | null {
  let name: string | null = null;
  for (const line of tlog.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as { TP?: unknown; V?: unknown };
      if (Array.isArray(e.TP) && e.TP.join('.') === 'system.thingName' && typeof e.V === 'string' && e.V !== '')
        name = e.V;
    } catch {
      /* not a tlog line */
    }
  }
  return name;
}
