// The offline end-to-end pipeline (`npm run pipeline`): base image → installer stand-in → AWS + provisioning
// stand-ins on loopback → claim create → bake with Packer (qemu target, `--format ova`) → boot clones → the OVA
// checked as an importer would → a clone booted from the OVA's disk → report.
// Every run keeps its logs under .cache/pipeline-runs/<ts>/; a failure names its stage.
import { createHash, randomUUID } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { IoTClient, ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import { CliError, ExitCode, ToolError, UsageError } from '../common/errors.ts';
import { REPO_ROOT, cacheRoot, ensureBaseImage, type BaseImage } from './base-image.ts';
import { bootClone, bootsInJournal, lastBootJournal, type CloneBoot, type GuestPaths } from './clone.ts';
import { allOrStop, allowChildren, killAllChildren, run, stderrProgress, type Progress } from './proc.ts';
import { readEvents, readRegistrations, type Registration } from './records.ts';
import { findOva, mib, prepareOva, type OvaReport } from './ova.ts';
import { formatReport, journalQuote } from './report.ts';
export { formatReport };
import { freePort, startTsService, type Service } from './services.ts';
import { resolveAgentConfig } from '../agent/src/agent-config.ts';
import { buildInstallerStandin } from '../harness/standin-installer.ts';
import { ovfEnvCdromQemuArgs, ovfEnvIsoForThingName } from '../harness/ovf-env.ts';
import { loadOrCreateCa } from '../standins/pki.ts';

export const PROVISIONING_TEMPLATE = 'GreengrassFleetProvisioningTemplate';
export const ENV = 'offline';
/** The claim policy the fleet stack creates (cloudformation/greengrass-fleet.yaml ClaimPolicyName default). */
export const CLAIM_POLICY = 'GreengrassProvisioningClaimPolicy';

export interface PipelineOptions {
  progress?: Progress;
  /** Run directory (default .cache/pipeline-runs/<ts>). */
  runDir?: string;
  /** Only boot the two provisioning clones (skip second boot / stand-in down / template hostname). */
  quick?: boolean;
  /** Reuse the bake of an earlier run dir (its bake.json: sealed image, CA dir, MQTT port): skips claim + bake. */
  reuseBake?: string;
  cloneTimeoutMs?: number;
  /** Seconds the provisioning stand-in stays down after the "down" clone's unit starts. */
  downSeconds?: number;
}

export interface ScenarioCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface PipelineReport {
  ok: boolean;
  runDir: string;
  failedStage: string | null;
  error: string | null;
  /** Process exit code for this result (0 ok; the failing stage's typed error code; 6 when a check failed). */
  exitCode: number;
  stages: { name: string; seconds: number; ok: boolean }[];
  baseImage: { dir: string; buildSeconds: number; cached: boolean } | null;
  sealedImage: string | null;
  /** The OVA `build --format ova` made of the sealed disk, its sizes, and the qcow2 its disk became. */
  ova: OvaReport | null;
  clones: (CloneBoot & { registered: string[]; provisionedSeconds: number | null })[];
  registrations: Registration[];
  checks: ScenarioCheck[];
  recordsFile: string;
  /** First-boot journals quoted in the report: a provisioned clone's and the refused ones'. */
  journalQuotes?: { clone: string; why: string; lines: string[] }[];
}

export class StageError extends CliError {
  readonly stage: string;
  constructor(stage: string, cause: unknown) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    const code = cause instanceof CliError ? cause.exitCode : ExitCode.INTERNAL;
    super(`stage "${stage}" failed: ${msg}`, code, `stage-${stage}`, { cause });
    this.stage = stage;
  }
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('Z', '');
}

/** Whether the provisioning stand-in recorded a fleet status message from this core (Greengrass then knows it). */
function coreReported(recordsFile: string, thingName: string): boolean {
  return readEvents(recordsFile).some((e) => e.event === 'core-status' && e.thingName === thingName);
}

/** The certificate ids attached to a Thing in the AWS stand-in's IoT registry (what the hook and fleet commands read). */
async function thingPrincipals(endpoint: string, thingName: string): Promise<string[]> {
  const iot = new IoTClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIASTANDINOFFLINE00', secretAccessKey: 'stand-in-secret-not-a-real-key' },
  });
  try {
    const out = await iot.send(new ListThingPrincipalsCommand({ thingName }));
    return (out.principals ?? []).map((p) => p.split('/').pop() ?? p);
  } catch {
    return [];
  } finally {
    iot.destroy();
  }
}

function sha256File(f: string): string {
  return createHash('sha256').update(readFileSync(f)).digest('hex');
}

/** The guest paths to check, from the production agent config (agent/agent.yaml) and the staging contract. */
async function guestPaths(): Promise<GuestPaths> {
  const cfg = resolveAgentConfig(
    yaml.load(readFileSync(join(REPO_ROOT, 'agent', 'agent.yaml'), 'utf8')),
    'agent/agent.yaml',
  );
  return {
    sentinel: cfg.state.sentinel,
    claimKey: '/greengrass/v2/claim-certs/claim.private.pem.key',
    claimCert: '/greengrass/v2/claim-certs/claim.pem.crt',
    greengrassWantsLink: cfg.service.enabledLink,
    configTlog: '/greengrass/v2/config/config.tlog',
    templateHostnameFile: cfg.thingName.templateHostnameFile,
    deviceCert: '/greengrass/v2/thingCert.crt',
  };
}

const RUNNING_FILE = 'pipeline.pid';

/** A run whose pipeline process is alive: its disks are in use (a bake's output, a clone's overlay). */
function inProgress(run: string): boolean {
  const pid = Number(existsSync(join(run, RUNNING_FILE)) ? readFileSync(join(run, RUNNING_FILE), 'utf8') : NaN);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Disk space: keeps the sealed image and clone disks of the `keep` most recent runs and of every run still in
 * progress; older runs keep only their logs, records and reports (each sealed image is ~1 GiB).
 */
export function pruneOldRuns(keep = 3, except?: string): string[] {
  const root = join(cacheRoot(), 'pipeline-runs');
  if (!existsSync(root)) return [];
  const runs = readdirSync(root)
    .map((n) => join(root, n))
    .filter((p) => p !== except && statSync(p).isDirectory() && !inProgress(p))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const pruned: string[] = [];
  for (const run of runs.slice(keep)) {
    for (const sub of ['image', 'clones', 'ova']) {
      const d = join(run, sub);
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)) {
        if (f.endsWith('.qcow2') || f.endsWith('.raw') || f.endsWith('.ova')) {
          rmSync(join(d, f), { force: true });
          pruned.push(join(d, f));
        }
      }
    }
    rmSync(join(run, 'bake.json'), { force: true });
  }
  return pruned;
}

export async function runPipeline(opts: PipelineOptions = {}): Promise<PipelineReport> {
  const progress = opts.progress ?? stderrProgress;
  const runDir = resolve(opts.runDir ?? join(cacheRoot(), 'pipeline-runs', stamp()));
  // The baked image and the clones' disks under it hold the claim key (until each clone's first boot removes it).
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(runDir, RUNNING_FILE), String(process.pid));
  allowChildren();
  const pruned = pruneOldRuns(3, opts.reuseBake ? resolve(opts.reuseBake) : undefined);
  if (pruned.length) progress(`pruned ${pruned.length} disk image(s) of older runs (logs kept)`);
  const logs = join(runDir, 'logs');
  mkdirSync(logs, { recursive: true });
  const recordsFile = join(runDir, 'provisioning-records.jsonl');
  const report: PipelineReport = {
    ok: false,
    runDir,
    failedStage: null,
    error: null,
    exitCode: ExitCode.INTERNAL,
    stages: [],
    baseImage: null,
    sealedImage: null,
    ova: null,
    clones: [],
    registrations: [],
    checks: [],
    recordsFile,
  };
  const services: Service[] = [];
  let provisioning: Service | null = null;
  const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    progress(`== stage ${name}`);
    try {
      const v = await fn();
      report.stages.push({ name, seconds: Math.round((Date.now() - t0) / 1000), ok: true });
      return v;
    } catch (e) {
      report.stages.push({ name, seconds: Math.round((Date.now() - t0) / 1000), ok: false });
      throw e instanceof StageError ? e : new StageError(name, e);
    }
  };

  try {
    // 1. Base image (cached by recipe hash).
    const hadBase = existsSync(join(cacheRoot(), 'base-image'));
    const base: BaseImage = await stage('base-image', () => ensureBaseImage({ progress }));
    report.baseImage = {
      dir: base.dir,
      buildSeconds: base.buildSeconds,
      cached: hadBase && Date.now() - Date.parse(base.builtAt) > base.buildSeconds * 1000 + 60_000,
    };

    const paths = await stage('agent-config', guestPaths);

    // 2. Stand-in CA, installer stand-in jar zipped as a stand-in nucleus.
    const reused = opts.reuseBake ? readBakeInfo(opts.reuseBake) : null;
    const caDir = reused?.caDir ?? join(runDir, 'ca');
    const inputs = await stage('installer-standin', async () => {
      loadOrCreateCa(caDir);
      const built = await buildInstallerStandin();
      const nucleusDir = join(runDir, 'nucleus-standin');
      rmSync(nucleusDir, { recursive: true, force: true });
      mkdirSync(join(nucleusDir, 'lib'), { recursive: true });
      writeFileSync(join(nucleusDir, 'lib', 'Greengrass.jar'), readFileSync(built.installerJar));
      const zip = join(runDir, 'greengrass-nucleus-standin.zip');
      rmSync(zip, { force: true });
      await run('zip', ['-q', '-X', '-r', zip, 'lib'], {
        stage: 'installer-standin: zip',
        logFile: join(logs, 'installer-standin.log'),
        cwd: nucleusDir,
      });
      return {
        nucleusZip: zip,
        nucleusSha256: sha256File(zip),
        pluginJar: built.pluginJar,
        pluginSha256: sha256File(built.pluginJar),
        rootCa: join(caDir, 'ca.crt'),
      };
    });

    // 3. Stand-ins on loopback (the guest reaches them at 10.0.2.2).
    const mqttPort = reused?.mqttPort ?? (await freePort());
    const awsState = join(runDir, 'aws-state.json');
    // A reused bake keeps its account: the claim and the thing group it made are what the baked clones provision into.
    if (opts.reuseBake && existsSync(join(opts.reuseBake, 'aws-state.json')) && !existsSync(awsState)) {
      copyFileSync(join(opts.reuseBake, 'aws-state.json'), awsState);
    }
    const startProvisioning = () =>
      startTsService(
        'provisioning stand-in',
        'standins/provisioning/cli.ts',
        [
          '--ca-dir',
          caDir,
          '--host',
          '127.0.0.1',
          '--port',
          String(mqttPort),
          '--template',
          PROVISIONING_TEMPLATE,
          '--rate',
          '10',
          '--records',
          recordsFile,
          // One account with the AWS stand-in, as on AWS: its thing groups, the stack's pre-provisioning hook reading
          // its registry, the stack's IoT policies enforced, registrations and core status written back.
          '--aws-state',
          awsState,
          '--account',
          aws.address,
          '--stack-hook',
          '--stack-policies',
        ],
        join(logs, 'provisioning-standin.log'),
      );
    const aws = await stage('aws-standin', async () => {
      const s = await startTsService(
        'AWS wire stand-in',
        'standins/aws/cli.ts',
        [
          '--port',
          '0',
          '--ca-dir',
          caDir,
          '--state',
          awsState,
          '--iot-data-endpoint',
          '10.0.2.2',
          '--iot-cred-endpoint',
          '10.0.2.2',
          '--policy',
          CLAIM_POLICY,
        ],
        join(logs, 'aws-standin.log'),
      );
      services.push(s);
      return s;
    });
    provisioning = await stage('provisioning-standin', startProvisioning);
    const awsEnv: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ENDPOINT_URL: aws.address,
      AWS_ACCESS_KEY_ID: 'AKIASTANDINOFFLINE00',
      AWS_SECRET_ACCESS_KEY: 'stand-in-secret-not-a-real-key',
      AWS_REGION: 'us-east-1',
    };

    // 4. Claim + bake.
    let sealed = reused?.sealedImage ?? null;
    let bakedOva = reused?.ova ?? null;
    if (!sealed) {
      const cli = join(REPO_ROOT, 'bin', 'greengrass-image.js');
      await stage('agent-build', async () => {
        await run('npm', ['run', 'build'], {
          stage: 'agent-build',
          logFile: join(logs, 'agent-build.log'),
          cwd: REPO_ROOT,
        });
        if (!existsSync(join(REPO_ROOT, 'dist', 'greengrass-firstboot')))
          throw new ToolError('npm run build did not produce dist/greengrass-firstboot', 'upstream-missing');
      });
      await stage('claim-create', async () => {
        if (!existsSync(cli)) throw new ToolError('bin/greengrass-image.js does not exist yet', 'upstream-missing');
        await run(process.execPath, [cli, 'claim', 'create', '--env', ENV, '--policy', CLAIM_POLICY], {
          stage: 'claim-create',
          logFile: join(logs, 'claim-create.log'),
          env: awsEnv,
          cwd: REPO_ROOT,
        });
      });
      sealed = await stage('bake', async () => {
        const varFile = join(runDir, 'offline-base.pkrvars.hcl');
        const hcl = (s: string) => JSON.stringify(s);
        writeFileSync(
          varFile,
          [
            `qemu_disk_image  = ${hcl(base.disk)}`,
            `qemu_kernel      = ${hcl(base.kernel)}`,
            `qemu_initrd      = ${hcl(base.initrd)}`,
            `qemu_append      = ${hcl(base.append)}`,
            `qemu_serial_log  = ${hcl(join(logs, 'bake-serial.log'))}`,
            `qemu_accelerator = "tcg"`,
            `ssh_username     = ${hcl(base.buildUser)}`,
            `ssh_password     = ${hcl(base.buildPassword)}`,
            `cpus             = 2`,
            `memory           = 2048`,
            '',
          ].join('\n'),
          { mode: 0o600 },
        );
        const out = join(runDir, 'image');
        await run(
          process.execPath,
          [
            cli,
            'build',
            '--target',
            'qemu',
            '--format',
            'ova',
            '--env',
            ENV,
            '--var-file',
            varFile,
            '--skip-agent-build',
            '--nucleus-source',
            inputs.nucleusZip,
            '--nucleus-sha256',
            inputs.nucleusSha256,
            '--plugin-source',
            inputs.pluginJar,
            '--plugin-sha256',
            inputs.pluginSha256,
            '--root-ca',
            inputs.rootCa,
            '--mqtt-port',
            String(mqttPort),
            '--output-dir',
            out,
          ],
          {
            stage: 'bake',
            logFile: join(logs, 'bake.log'),
            env: { ...awsEnv, PACKER_LOG: process.env.PACKER_LOG ?? '0' },
            cwd: REPO_ROOT,
            timeoutMs: 60 * 60_000,
            heartbeatMs: 60_000,
          },
        );
        const img = findQcow2(out);
        if (!img)
          throw new ToolError(`bake produced no .qcow2 under ${out} (log: ${join(logs, 'bake.log')})`, 'no-image');
        bakedOva = findOva(out);
        if (!bakedOva) throw new ToolError(`bake (--format ova) produced no .ova under ${out}`, 'no-image');
        const info: BakeInfo = {
          sealedImage: img,
          ova: bakedOva,
          caDir,
          mqttPort,
          bakedAt: new Date().toISOString(),
        };
        writeFileSync(join(runDir, 'bake.json'), JSON.stringify(info, null, 2) + '\n');
        return img;
      });
    }
    report.sealedImage = sealed;

    // 5. Clones.
    const cloneDir = join(runDir, 'clones');
    mkdirSync(cloneDir, { recursive: true });
    const timeoutMs = opts.cloneTimeoutMs ?? 15 * 60_000;
    const spec = (id: string, hostname: string | undefined, boot = 1, uuid = randomUUID(), disk = sealed!) => ({
      id,
      hostname,
      overlay: join(cloneDir, `${id}.qcow2`),
      sealedImage: disk,
      kernel: base.kernel,
      initrd: base.initrd,
      append: base.append,
      uuid,
      boot,
      timeoutMs,
    });
    const withRegs = (b: CloneBoot, before: Registration[]) => {
      const after = readRegistrations(recordsFile);
      const fresh = after.slice(before.length);
      const mine = b.expectedThingName ? fresh.filter((r) => r.thingName === b.expectedThingName) : fresh;
      const first = mine.find((r) => r.time);
      return {
        ...b,
        registered: mine.map((r) => r.thingName),
        provisionedSeconds: first?.time
          ? Math.round((Date.parse(first.time) - Date.parse(b.startedAt)) / 1000)
          : b.outcome === 'finished' && b.outcomeMs
            ? Math.round(b.outcomeMs / 1000)
            : null,
      };
    };
    const check = (name: string, ok: boolean, detail: string) => {
      report.checks.push({ name, ok, detail });
      progress(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
    };
    const provisionedOk = (c: ReturnType<typeof withRegs>, host: string) =>
      c.outcome === 'finished' &&
      c.registered.length === 1 &&
      c.registered[0] === host &&
      !c.disk.claimKeyPresent &&
      c.disk.sentinel !== null &&
      c.disk.greengrassEnabled &&
      c.disk.configTlogThingName === host;
    const describe = (c: ReturnType<typeof withRegs>) =>
      `unit ${c.outcome}, registered [${c.registered.join(', ')}], claim key ${c.disk.claimKeyPresent ? 'PRESENT' : 'gone'}, sentinel ${c.disk.sentinel ? 'written' : 'absent'}, greengrass.service ${c.disk.greengrassEnabled ? 'enabled' : 'not enabled'}, config.tlog thingName ${c.disk.configTlogThingName ?? '-'}`;

    // The OVA first: checked as an importer would, its disk unpacked and converted back for QEMU (a clone boots it).
    const ova = await stage('ova', () => prepareOva(sealed!, bakedOva, runDir, progress));
    report.ova = ova;
    progress(`OVA ${ova.path}: ${mib(ova.bytes)} (sealed disk ${mib(ova.sealedDiskBytes)})`);
    check(
      'the OVA passes the importer checks (tar order, SHA-256 manifest, disk references, streamOptimized VMDK)',
      ova.problems.length === 0,
      `${mib(ova.bytes)}, populated ${mib(ova.populatedBytes)} of ${mib(ova.capacityBytes)}`,
    );

    // Round 1, two VMs at once (one per host core; TCG runs a vCPU on one): clone-a from the sealed qcow2, named by
    // its hostname, and a clone from the OVA's disk as vSphere deploys it: the template's hostname kept, the
    // ThingName set at deploy time as the OVA's thing-name property, delivered on the OVF environment's ISO
    // transport (ovf-env.xml on a CD-ROM). Only that property can name it.
    const uuidA = randomUUID();
    const [a, fromOva] = await stage('clones-first-boot', async () => {
      const before = readRegistrations(recordsFile);
      const iso = ovfEnvIsoForThingName(join(cloneDir, 'clone-ova.ovf-env.iso'), 'branch-020');
      const boots = await allOrStop([
        // clone-a stays up until its nucleus has reported its status: the core "seen working" that the
        // pre-provisioning hook protects from clone-dup below.
        bootClone(spec('clone-a', 'branch-017', 1, uuidA), paths, runDir, progress, {
          keepRunningUntil: () => coreReported(recordsFile, 'branch-017'),
        }),
        bootClone(
          {
            ...spec('clone-ova', undefined, 1, randomUUID(), ova.disk),
            expectedThingName: 'branch-020',
            qemuArgs: ovfEnvCdromQemuArgs(iso),
          },
          paths,
          runDir,
          progress,
        ),
      ]);
      // Registrations from the two parallel boots are attributed by ThingName.
      return boots.map((x) => withRegs(x, before));
    });
    report.clones.push(a, fromOva);
    check('clone-a provisions once as branch-017', provisionedOk(a, 'branch-017'), describe(a));
    check(
      "clone from the OVA's disk, template hostname, named by the OVF environment's ISO transport, provisions once as branch-020",
      provisionedOk(fromOva, 'branch-020') && namedByOvfEnv(fromOva.journalFile),
      `${describe(fromOva)}; journal names the OVF environment: ${namedByOvfEnv(fromOva.journalFile)}`,
    );
    check(
      'clones have distinct machine-ids',
      !!a.disk.machineId && !!fromOva.disk.machineId && a.disk.machineId !== fromOva.disk.machineId,
      `${a.disk.machineId} / ${fromOva.disk.machineId}`,
    );
    // A clone's journal starts with its own first boot: the template's last minutes (the build account's session,
    // journald complaining that seal deleted its file) would show up in `journalctl --list-boots` and `-p err`.
    const aBoots = bootsInJournal(readFileSync(a.journalFile, 'utf8'));
    check(
      "clone-a's journal holds only its own boot, nothing of the template's",
      aBoots === 1,
      `${aBoots} boot(s) in ${a.journalFile}`,
    );
    check(
      '`journalctl -u greengrass-firstboot` on clone-a tells the run, ending with the provisioned sentence',
      unitJournalTells(a.unitJournalFile, /Provisioned as branch-017; /),
      a.unitJournalFile,
    );

    if (!opts.quick) {
      // Round 2, two VMs at a time: slot C = clone-c booted while the provisioning stand-in is down (it comes back
      // `downFor` s after clone-c's unit has started), then a clone left with the template hostname; slot 1 =
      // clone-a's second boot, then (once the stand-in is back) a clone named like clone-a.
      const downFor = opts.downSeconds ?? 60;
      const templateHost = base.hostname;
      const round = await stage('clones-second-boot-template-and-down', async () => {
        await provisioning!.stop();
        provisioning = null;
        progress(`provisioning stand-in stopped; it comes back ${downFor} s after clone-c's unit starts`);
        const before = readRegistrations(recordsFile);
        let backAt = 0;
        let markBack!: () => void;
        const back = new Promise<void>((r) => (markBack = r));
        const bringBack = async () => {
          if (backAt) return;
          provisioning = await startProvisioning();
          backAt = Date.now();
          progress('provisioning stand-in is back');
          markBack();
        };
        const slotC = bootClone(spec('clone-c', 'branch-019'), paths, runDir, progress, {
          onUnitStarting: async () => {
            await new Promise((r) => setTimeout(r, downFor * 1000));
            await bringBack();
          },
        })
          .finally(bringBack)
          .then(async (c) => {
            const tb = await bootClone(spec('clone-template', templateHost), paths, runDir, progress);
            return [c, tb] as const;
          });
        const slot1 = (async () => {
          const a2 = await bootClone(spec('clone-a', 'branch-017', 2, uuidA), paths, runDir, progress);
          await back;
          // Another branch names its VM like clone-a, which has provisioned and reported: the stack's
          // pre-provisioning hook must refuse it, or both machines would hold one identity.
          const dup = await bootClone(spec('clone-dup', 'branch-017'), paths, runDir, progress);
          return [a2, dup] as const;
        })();
        const [[c, tb], [a2, dup]] = await allOrStop<readonly [CloneBoot, CloneBoot]>([slotC, slot1]);
        const fresh = readRegistrations(recordsFile).slice(before.length);
        return {
          a2: {
            ...withRegs(a2, before),
            registered: fresh.filter((r) => r.thingName === 'branch-017').map((r) => r.thingName),
          },
          t: {
            ...withRegs(tb, before),
            // Everything but clone-c's own name would be the template's.
            registered: fresh.filter((r) => r.thingName !== 'branch-019').map((r) => r.thingName),
          },
          dup: {
            ...withRegs(dup, before),
            registered: fresh.filter((r) => r.thingName === 'branch-017').map((r) => r.thingName),
          },
          c: withRegs(c, before),
          cRegisteredAfterBack: fresh
            .filter((r) => r.thingName === 'branch-019')
            .every((r) => Date.parse(r.time) >= backAt),
        };
      });
      const { a2, t, c, dup } = round;
      report.clones.push(a2, c, t, dup);
      check(
        'second boot of clone-a skips the unit and registers nothing',
        a2.outcome === 'skipped' &&
          a2.registered.length === 0 &&
          a2.disk.configTlogThingName === 'branch-017' &&
          a2.disk.sentinel !== null,
        describe(a2),
      );
      check(
        `clone left with the template hostname (${templateHost}) refuses and registers nothing`,
        t.outcome === 'failed' &&
          t.unitExitStatuses.length > 0 &&
          t.unitExitStatuses.every((x) => x === ExitCode.CONFIG) &&
          t.registered.length === 0 &&
          t.disk.sentinel === null &&
          t.disk.configTlogThingName === null &&
          t.disk.templateHostname === templateHost,
        `${describe(t)}, exit statuses [${t.unitExitStatuses.join(', ')}], recorded template hostname ${t.disk.templateHostname ?? '-'}`,
      );
      const holders = await thingPrincipals(aws.address, 'branch-017');
      const dupJournal = journalQuote(dup.unitJournalFile);
      check(
        'clone named like a working core (branch-017) is refused by the pre-provisioning hook; clone-a keeps the name alone',
        dup.outcome === 'failed' &&
          dup.unitExitStatuses.length > 0 &&
          dup.unitExitStatuses.every((x) => x === ExitCode.CONFIG) &&
          dup.registered.length === 0 &&
          dup.disk.sentinel === null &&
          dup.disk.claimKeyPresent &&
          holders.length === 1 &&
          holders[0] === a.disk.deviceCertificateId &&
          dupJournal.some((l) => /pre-provisioning hook/i.test(l)),
        `${describe(dup)}, exit statuses [${dup.unitExitStatuses.join(', ')}], certificates holding branch-017 in IoT: ${holders.length}`,
      );
      report.journalQuotes = [
        { clone: 'clone-a', why: 'provisioned', lines: journalQuote(a.unitJournalFile) },
        { clone: 'clone-template', why: 'refused: the template hostname', lines: journalQuote(t.unitJournalFile) },
        { clone: 'clone-dup', why: 'refused by the pre-provisioning hook', lines: dupJournal },
        {
          clone: 'clone-ova',
          why: 'named by the OVF environment (ISO transport)',
          lines: journalQuote(fromOva.unitJournalFile),
        },
      ];
      check(
        'clone booted while the provisioning stand-in was down provisions once it is back',
        provisionedOk(c, 'branch-019') && round.cRegisteredAfterBack,
        `${describe(c)}; registered after the stand-in came back: ${round.cRegisteredAfterBack}`,
      );
    }

    // PID 1 drops a notify message whose sender has exited before it reads it, and says so: had the agent's status
    // updates been sent that way, `systemctl status` would have missed them on these loaded first boots.
    // The detail quotes each such line with the journal lines just before it, which show what ran at that moment.
    const dropped = report.clones.flatMap((x) => {
      const lines = lastBootJournal(readFileSync(x.journalFile, 'utf8')).split('\n');
      return lines.flatMap((l, i) =>
        /Cannot find unit for notify message/.test(l)
          ? [`${x.id}#${x.boot}: ${lines.slice(Math.max(0, i - 3), i + 1).join(' | ')}`]
          : [],
      );
    });
    check(
      'PID 1 attributed every status message (no "Cannot find unit for notify message" in any boot)',
      dropped.length === 0,
      dropped.join('; ') || `${report.clones.length} boots`,
    );

    report.registrations = readRegistrations(recordsFile);
    const names = report.registrations.map((r) => r.thingName);
    check('every ThingName registered exactly once', new Set(names).size === names.length, names.join(', '));
    report.ok = report.checks.every((c) => c.ok);
    if (!report.ok) {
      report.failedStage = 'checks';
      report.error = report.checks
        .filter((c) => !c.ok)
        .map((c) => c.name)
        .join('; ');
      report.exitCode = ExitCode.INTEGRITY;
    } else report.exitCode = ExitCode.OK;
  } catch (e) {
    // A stage that failed in one of two parallel boots leaves the other VM running: nothing outlives the run.
    killAllChildren();
    report.ok = false;
    report.failedStage = e instanceof StageError ? e.stage : 'pipeline';
    report.error = e instanceof Error ? e.message : String(e);
    report.exitCode = e instanceof CliError ? e.exitCode : ExitCode.INTERNAL;
    report.registrations = readRegistrations(recordsFile);
  } finally {
    if (provisioning) await (provisioning as Service).stop();
    for (const s of services) await s.stop();
    writeFileSync(join(runDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    rmSync(join(runDir, RUNNING_FILE), { force: true });
  }
  return report;
}

/** Whether `journalctl -u` on the clone shows the agent's sentences of the last boot, the last matching `end`. */
function unitJournalTells(unitJournalFile: string, end: RegExp): boolean {
  const mine = lastBootJournal(readFileSync(unitJournalFile, 'utf8'))
    .split('\n')
    .filter((l) => / greengrass-firstboot\[\d+\]: /.test(l));
  return mine.length > 3 && end.test(mine.at(-1) ?? '');
}

/** Whether the clone's journal says the OVF environment named it (the agent's ThingName line). */
function namedByOvfEnv(journalFile: string): boolean {
  return /OVF environment|ovf-env/.test(readFileSync(journalFile, 'utf8'));
}

export interface BakeInfo {
  sealedImage: string;
  /** The OVA `build --format ova` wrote (absent in bakes from before the OVA export). */
  ova?: string;
  caDir: string;
  mqttPort: number;
  bakedAt: string;
}

function readBakeInfo(dir: string): BakeInfo {
  const f = join(dir, 'bake.json');
  if (!existsSync(f))
    throw new UsageError(`--reuse-bake ${dir}: no bake.json there (not a run dir with a finished bake)`);
  const info = JSON.parse(readFileSync(f, 'utf8')) as BakeInfo;
  for (const p of [info.sealedImage, join(info.caDir, 'ca.crt'), ...(info.ova ? [info.ova] : [])])
    if (!existsSync(p)) throw new UsageError(`--reuse-bake ${dir}: ${p} is gone`);
  return info;
}

function findQcow2(dir: string): string | null {
  if (!existsSync(dir)) return null;
  const f = readdirSync(dir).find((n) => n.endsWith('.qcow2') && statSync(join(dir, n)).isFile());
  return f ? join(dir, f) : null;
}

function parseArgs(argv: string[]): PipelineOptions {
  const o: PipelineOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--run-dir') o.runDir = val();
    else if (a === '--reuse-bake') o.reuseBake = resolve(val());
    else if (a === '--down-seconds') o.downSeconds = Number(val());
    else if (a === '--clone-timeout') o.cloneTimeoutMs = Number(val()) * 1000;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: npm run pipeline -- [--quick] [--run-dir DIR] [--reuse-bake RUN_DIR] [--down-seconds N] [--clone-timeout SECONDS]\n',
      );
      process.exit(0);
    } else throw new UsageError(`unknown argument ${a}`);
  }
  if (o.reuseBake) readBakeInfo(o.reuseBake);
  if (o.downSeconds !== undefined && !(o.downSeconds >= 0))
    throw new UsageError('--down-seconds must be a number >= 0');
  if (o.cloneTimeoutMs !== undefined && !(o.cloneTimeoutMs > 0))
    throw new UsageError('--clone-timeout must be a positive number of seconds');
  return o;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let opts: PipelineOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit((e as CliError).exitCode ?? ExitCode.USAGE);
  }
  const t0 = Date.now();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`pipeline: ${sig}: stopping packer, VMs and stand-ins (logs kept)\n`);
      killAllChildren();
      process.exit(ExitCode.INTERRUPTED);
    });
  }
  runPipeline(opts).then((r) => {
    process.stdout.write(formatReport(r) + `\n  total: ${Math.round((Date.now() - t0) / 1000)} s\n`);
    process.exit(r.exitCode);
  });
}
