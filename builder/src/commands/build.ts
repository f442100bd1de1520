// `build`: claim (Secrets Manager, checked) + installer config + agent + nucleus + plugin + root CA
// staged in a 0700 temp dir, then `packer build`. The staging dir (it holds the claim private key)
// is removed on success, failure, SIGINT and SIGTERM. Writes a build manifest next to the image.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../../common/atomic-write.ts';
import { AwsError, ConfigError, ToolError, TransientError, UsageError } from '../../../common/errors.ts';
import { DEFAULT_PATHS } from '../../../common/installer-config.ts';
import { parseCertificate } from '../../../common/pem.ts';
import { fleetConfig, parseInstallerConfig } from '../../../common/installer-config.ts';
import { makeClients, type Clients } from '../aws.ts';
import { DEFAULT_SECRET_PREFIX, parseClaimSecret, secretName } from '../claim-secret.ts';
import type { Context } from '../context.ts';
import {
  CONFIG_SETTINGS,
  checkCsrPluginVersion,
  renderInstallerConfig,
  resolveInstallerSettings,
  templateParameters,
  withSettingsRegion,
} from '../installer-settings.ts';
import { DEFAULT_PLUGIN_VERSION, defaultCacheDir, fetchArtifact, sha256File } from '../artifacts.ts';
import { detectPacker, REPO_ROOT, runPackerSync, stageTemplates, startPacker } from '../packer.ts';
import { httpGet } from '../proxy.ts';
import { assertClaimProvisionable, assertPluginJar, assertThingGroupExists } from '../bake-checks.ts';
import { keyValues, loadSettings, pick, settingKinds, type SettingKinds } from '../settings.ts';
import { readClaimSecret } from './claim.ts';
import { agentSource } from '../agent-exe.ts';

export const TARGETS = {
  vsphere: 'vsphere-iso.ubuntu',
  vmware: 'vmware-iso.ubuntu',
  virtualbox: 'virtualbox-iso.ubuntu',
  qemu: 'qemu.ubuntu',
} as const;
export type Target = keyof typeof TARGETS;

export const AMAZON_ROOT_CA1_URL = 'https://www.amazontrust.com/repository/AmazonRootCA1.pem';
export const MANIFEST_NAME = 'greengrass-image-manifest.json';

export const BUILD_OPTIONS = {
  'secret-prefix': { type: 'string', describe: 'claim secret prefix (default greengrass)' },
  'var-file': { type: 'string', array: true, describe: 'extra Packer var-file (site values), repeatable' },
  var: { type: 'string', array: true, describe: 'extra Packer variable KEY=VALUE, repeatable' },
  'output-dir': { type: 'string', describe: 'image output directory, must not exist (default ./output-<target>)' },
  packer: { type: 'string', describe: 'packer binary (default: packer on PATH)' },
  'plugin-version': {
    type: 'string',
    describe: `FleetProvisioningByClaim version (default ${DEFAULT_PLUGIN_VERSION})`,
  },
  'nucleus-source': { type: 'string', describe: 'nucleus zip: local path, file:// URL, URL, or mirror base URL' },
  'nucleus-sha256': { type: 'string', describe: 'pinned SHA-256 of the nucleus zip (default: the pin for 2.16.0)' },
  'plugin-source': { type: 'string', describe: 'plugin jar: local path, file:// URL, URL, or mirror base URL' },
  'plugin-sha256': { type: 'string', describe: 'pinned SHA-256 of the plugin jar (default: the pin for 1.2.2)' },
  'root-ca': { type: 'string', describe: `root CA PEM for the device (default: download ${AMAZON_ROOT_CA1_URL})` },
  'proxy-ca': {
    type: 'string',
    describe: 'CA certificate (PEM) of an https:// --proxy-url, appended to the device root CA file',
  },
  'skip-agent-build': {
    type: 'boolean',
    describe: 'reuse dist/greengrass-firstboot instead of running scripts/build.mjs',
  },
  'agent-exe': {
    type: 'string',
    describe: 'prebuilt agent executable (Linux x86-64, from `npm run build` in a checkout): no agent build',
  },
  'cache-dir': { type: 'string', describe: 'download cache (default $XDG_CACHE_HOME/greengrass-image)' },
} as const;

export const BUILD_SETTINGS: SettingKinds = {
  ...settingKinds(BUILD_OPTIONS),
  var: 'key-values',
  ...CONFIG_SETTINGS,
  target: 'string',
  env: 'string',
};

const STEPS = 9;

/**
 * The 0700 staging dir and everything that must happen on the way out: removal on success,
 * failure, SIGINT/SIGTERM (forwarded to packer, which is given time to stop its VM).
 */
class Stage {
  readonly dir: string;
  child: ChildProcess | null = null;
  /** What packer leaves behind if it is killed instead of stopped: its VM and output dir hold the claim key. */
  packerLeftovers = '';
  private removed = false;
  private readonly onSignal: (sig: NodeJS.Signals) => void;
  private readonly onExit: () => void;

  constructor(private readonly progress: (m: string) => void) {
    this.dir = mkdtempSync(join(tmpdir(), 'greengrass-image-'));
    chmodSync(this.dir, 0o700);
    let stopping = false;
    const killPacker = (why: string) => {
      const child = this.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      process.stderr.write(
        `greengrass-image: ${why}: packer killed before it could clean up; ${this.packerLeftovers} may still hold the claim key: remove them\n`,
      );
    };
    this.onSignal = (sig) => {
      if (stopping) {
        killPacker(`second ${sig}`);
        process.exit(130);
      }
      stopping = true;
      this.remove();
      process.stderr.write(`greengrass-image: ${sig}: staging dir removed, stopping\n`);
      const finish = () => {
        process.stderr.write(`greengrass-image: error: interrupted by ${sig}\n`);
        process.exit(130);
      };
      const child = this.child;
      if (child && child.exitCode === null && child.signalCode === null) {
        child.once('close', finish);
        child.kill('SIGINT'); // packer stops its VM and cleans up on SIGINT
        setTimeout(() => killPacker('packer still running 60 s after SIGINT'), 60_000).unref();
      } else finish();
    };
    this.onExit = () => this.remove();
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    process.on('exit', this.onExit);
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    rmSync(this.dir, { recursive: true, force: true });
    this.progress(`removed staging dir ${this.dir}`);
  }

  close(): void {
    this.remove();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('exit', this.onExit);
  }
}

function fileOrFail(p: string, what: string): string {
  const abs = resolve(p);
  if (!existsSync(abs) || !statSync(abs).isFile())
    throw new ConfigError(`${what} ${abs} does not exist`, 'file-missing');
  return abs;
}

function runAgentBuild(progress: (m: string) => void): void {
  progress('building the agent executable (node scripts/build.mjs)');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs')], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 30 * 60_000,
  });
  for (const line of `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').filter(Boolean))
    progress(`  agent-build | ${line}`);
  if (r.error || r.status !== 0)
    throw new ToolError(
      `agent build failed (node scripts/build.mjs exit ${r.status ?? r.error?.message})`,
      'agent-build-failed',
    );
}

function agentVersion(exe: string): string {
  const r = spawnSync(exe, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  const v = (r.stdout ?? '').trim();
  if (r.error || r.status !== 0 || !v)
    throw new ToolError(
      `the agent executable ${exe} does not run (--version: exit ${r.status ?? r.error?.message})`,
      'agent-broken',
    );
  return v;
}

async function rootCa(
  opt: string | undefined,
  cacheDir: string,
  progress: (m: string) => void,
): Promise<{ pem: string; origin: string }> {
  let pem: string;
  let origin: string;
  if (opt) {
    origin = fileOrFail(opt, '--root-ca');
    pem = readFileSync(origin, 'utf8');
  } else {
    origin = AMAZON_ROOT_CA1_URL;
    const cached = join(cacheDir, 'AmazonRootCA1.pem');
    if (existsSync(cached)) pem = readFileSync(cached, 'utf8');
    else {
      progress(`downloading ${AMAZON_ROOT_CA1_URL}`);
      let res: { status: number; body: Buffer };
      try {
        res = await httpGet(AMAZON_ROOT_CA1_URL);
      } catch (err) {
        throw new TransientError(
          `cannot download ${AMAZON_ROOT_CA1_URL} (${(err as Error).message}); pass --root-ca PATH`,
          'download-failed',
          { cause: err },
        );
      }
      if (res.status !== 200)
        throw new TransientError(
          `download ${AMAZON_ROOT_CA1_URL} failed: HTTP ${res.status}; pass --root-ca PATH`,
          'download-failed',
        );
      pem = res.body.toString('utf8');
    }
    const cert = parseCertificate(pem, 'AmazonRootCA1.pem');
    if (!/CN=Amazon Root CA 1/.test(cert.subject))
      throw new ConfigError(`${AMAZON_ROOT_CA1_URL} is not Amazon Root CA 1 (${cert.subject})`, 'root-ca-invalid');
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(cached, pem, 0o644);
  }
  const cert = parseCertificate(pem, `root CA ${origin}`);
  if (!cert.ca) throw new ConfigError(`root CA ${origin} is not a CA certificate`, 'root-ca-invalid');
  return { pem, origin };
}

/** The proxy's CA: the Greengrass guide has it appended to the core's root CA file for an HTTPS proxy. */
function readProxyCa(path: string): string {
  const pem = readFileSync(path, 'utf8');
  const cert = parseCertificate(pem, `--proxy-ca ${path}`);
  if (!cert.ca) throw new ConfigError(`--proxy-ca ${path} is not a CA certificate`, 'proxy-ca-invalid');
  return pem;
}

function withProxyCa(
  ca: { pem: string; origin: string },
  proxyCa: string | undefined,
): { pem: string; origin: string } {
  if (!proxyCa) return ca;
  return {
    pem: `${ca.pem.replace(/\n*$/, '\n')}${proxyCa.replace(/\n*$/, '\n')}`,
    origin: `${ca.origin} + --proxy-ca`,
  };
}

function assertNucleusZip(path: string): void {
  const buf = readFileSync(path);
  if (buf.subarray(0, 4).toString('binary') !== 'PK\u0003\u0004' || !buf.includes('lib/Greengrass.jar')) {
    throw new ConfigError(`nucleus ${path} is not a Greengrass nucleus zip (no lib/Greengrass.jar)`, 'nucleus-invalid');
  }
}

export async function build(argv: Record<string, unknown>, ctx: Context): Promise<void> {
  const settings = loadSettings(argv.settings as string | undefined, BUILD_SETTINGS);
  const p = <T = string>(k: string) => pick<T>(argv, settings, k);
  const step = (n: number, m: string) => ctx.progress(`[${n}/${STEPS}] ${m}`);

  // ---- inputs (nothing is created before they are all known good) ----
  const target = p('target');
  if (!target) throw new UsageError(`--target is required (${Object.keys(TARGETS).join(', ')})`);
  if (!(target in TARGETS))
    throw new UsageError(`unknown target ${JSON.stringify(target)}: use one of ${Object.keys(TARGETS).join(', ')}`);
  const source = TARGETS[target as Target];
  const env = p('env');
  if (!env) throw new UsageError('--env is required (the claim secret is <prefix>/<env>/claims-certificate)');
  const name = secretName(p('secret-prefix') ?? DEFAULT_SECRET_PREFIX, env);
  const varFilesRaw = p<string | string[]>('var-file');
  const varFiles = (varFilesRaw === undefined ? [] : Array.isArray(varFilesRaw) ? varFilesRaw : [varFilesRaw]).map(
    (f) => fileOrFail(f, '--var-file'),
  );
  const vars = keyValues(p('var'), '--var');
  for (const k of ['staging_dir', 'output_directory'])
    if (k in vars) throw new UsageError(`--var ${k} is set by the builder; use --output-dir for the output`);
  const thingGroup = templateParameters(argv, settings).ThingGroupName; // baked into the image: checked before any AWS call
  // The image's scripts (packer/scripts) and the agent's config (agent/agent.yaml) lay Greengrass out under the default
  // root; a config.yaml pointing elsewhere would name claim files that are not there, and every clone would stop at exit 3.
  const rootPath = p('root-path');
  if (rootPath !== undefined && rootPath.replace(/\/+$/, '') !== DEFAULT_PATHS.rootPath) {
    throw new UsageError(
      `--root-path ${rootPath}: build bakes Greengrass into ${DEFAULT_PATHS.rootPath} only (the image's scripts and agent/agent.yaml use it); --root-path is for config render`,
    );
  }
  const outDir = resolve(p('output-dir') ?? `output-${target}`);
  if (existsSync(outDir) && readdirSync(outDir).length > 0)
    throw new ConfigError(
      `output dir ${outDir} already exists and is not empty (Packer needs a fresh one)`,
      'output-exists',
    );
  const removeEmptyOutDir = () => existsSync(outDir) && rmdirSync(outDir); // Packer refuses an existing output dir, even an empty one
  const cacheDir = resolve(p('cache-dir') ?? defaultCacheDir());
  const nucleusVersion = p('nucleus-version') ?? '2.16.0';
  const pluginVersion = p('plugin-version') ?? DEFAULT_PLUGIN_VERSION;
  checkCsrPluginVersion(p<boolean>('csr'), pluginVersion);
  const agent = agentSource(p('agent-exe'), p<boolean>('skip-agent-build'));
  const agentExe = agent.exe;
  for (const f of [
    'agent/agent.yaml',
    'systemd/greengrass-firstboot.service',
    'docs/agent.md',
    `packer/${target}.pkrvars.hcl`,
  ])
    fileOrFail(join(REPO_ROOT, f), 'repository file');

  const proxyCa = p('proxy-ca') === undefined ? undefined : readProxyCa(fileOrFail(p('proxy-ca')!, '--proxy-ca'));
  const proxyUrl = p('proxy-url');
  if (proxyUrl?.startsWith('https://') && !proxyCa) {
    throw new UsageError(
      `--proxy-url ${proxyUrl} is an HTTPS proxy: pass --proxy-ca PATH (the core trusts only the CAs in its root CA file)`,
    );
  }
  const packer = detectPacker(p('packer') ?? 'packer');
  step(1, `packer ${packer.version} (${packer.bin}); target ${target} -> ${source}`);

  const stage = new Stage(ctx.progress);
  ctx.progress(`staging in ${stage.dir} (0700; removed at the end)`);
  try {
    const files = join(stage.dir, 'files');
    mkdirSync(files, { mode: 0o700 });
    let clients: Clients | undefined;
    const getClients = () => (clients ??= makeClients(withSettingsRegion(ctx, settings)));

    step(2, `reading the claim from Secrets Manager (${name})`);
    const raw = await readClaimSecret(getClients(), name);
    if (raw === undefined)
      throw new AwsError(
        `secret ${name} not found: run greengrass-image claim create --env ${env} first`,
        'secret-not-found',
      );
    const { secret, info } = parseClaimSecret(raw.text, name);
    ctx.progress(`claim certificate ${secret.certificateId} (valid until ${info.notAfter.toISOString()}), key matches`);
    const claimPolicies = await assertClaimProvisionable(getClients(), secret, name, env);
    ctx.progress(`claim certificate ACTIVE in IoT with policy ${claimPolicies.join(', ')}`);
    await assertThingGroupExists(getClients(), thingGroup, env);
    ctx.progress(`thing group ${thingGroup} exists`);

    step(3, 'rendering the installer config');
    const installer = await resolveInstallerSettings({ ...argv, nucleusVersion }, settings, ctx, getClients);
    const configText = renderInstallerConfig(installer);

    step(4, 'agent executable');
    if (agent.build) runAgentBuild(ctx.progress);
    else ctx.progress(`using ${agentExe} (${agent.via})`);
    if (!existsSync(agentExe)) throw new ToolError(`${agentExe} was not built`, 'agent-build-failed');
    const agentVer = agentVersion(agentExe);

    step(5, `nucleus ${nucleusVersion} and FleetProvisioningByClaim ${pluginVersion} (sha256 pinned)`);
    const nucleus = await fetchArtifact(
      { kind: 'nucleus', version: nucleusVersion, source: p('nucleus-source'), sha256: p('nucleus-sha256'), cacheDir },
      ctx.progress,
    );
    assertNucleusZip(nucleus.path);
    const plugin = await fetchArtifact(
      { kind: 'plugin', version: pluginVersion, source: p('plugin-source'), sha256: p('plugin-sha256'), cacheDir },
      ctx.progress,
    );
    assertPluginJar(plugin.path);
    const ca = withProxyCa(await rootCa(p('root-ca'), cacheDir, ctx.progress), proxyCa);

    // packer init runs to completion in this process (no signal handler runs meanwhile): before any secret is staged.
    const packerRoot = stageTemplates(stage.dir, packer);
    if (packer.supportsInit) {
      step(6, 'packer init');
      const r = runPackerSync(packer, ['init', '.'], packerRoot);
      for (const line of r.output.split('\n').filter(Boolean)) ctx.progress(`  packer | ${line}`);
      if (r.status !== 0) throw new ToolError(`packer init failed (exit ${r.status})`, 'packer-failed');
    } else step(6, `packer init skipped (Packer ${packer.version} < 1.7; plugins.pkr.hcl left out)`);

    step(7, 'staging files');
    const builtAt = new Date().toISOString();
    copyFileSync(nucleus.path, join(files, 'greengrass-nucleus.zip'));
    copyFileSync(plugin.path, join(files, 'fleetprovisioningbyclaim.jar'));
    writeFileSync(join(files, 'config.yaml'), configText, { mode: 0o600 }); // may hold the proxy password
    writeFileSync(join(files, 'claim.pem.crt'), secret.certificatePem, { mode: 0o644 });
    writeFileAtomic(join(files, 'claim.private.pem.key'), secret.privateKey, 0o600);
    writeFileSync(join(files, 'AmazonRootCA1.pem'), ca.pem, { mode: 0o644 });
    copyFileSync(agentExe, join(files, 'greengrass-firstboot'));
    chmodSync(join(files, 'greengrass-firstboot'), 0o755);
    copyFileSync(join(REPO_ROOT, 'agent/agent.yaml'), join(files, 'agent.yaml'));
    copyFileSync(join(REPO_ROOT, 'systemd/greengrass-firstboot.service'), join(files, 'greengrass-firstboot.service'));
    copyFileSync(join(REPO_ROOT, 'docs/agent.md'), join(files, 'agent.md'));
    const buildInfo = {
      builtAt,
      target,
      nucleusVersion,
      pluginVersion,
      agentVersion: agentVer,
      packerVersion: packer.version,
      claimCertificateId: secret.certificateId,
    };
    writeFileSync(join(files, 'build-info.json'), `${JSON.stringify(buildInfo, null, 2)}\n`, { mode: 0o644 });

    step(8, `packer build -only=${source} (output ${outDir})`);
    const args = [
      'build',
      '-color=false',
      `-only=${source}`,
      '-var',
      `staging_dir=${files}`,
      `-var-file=${join(packerRoot, `${target}.pkrvars.hcl`)}`,
      ...varFiles.map((f) => `-var-file=${f}`),
      ...Object.entries(vars).flatMap(([k, v]) => ['-var', `${k}=${v}`]),
      '-var',
      `output_directory=${outDir}`,
      '.',
    ];
    removeEmptyOutDir();
    const started = Date.now();
    const run = startPacker(packer, args, packerRoot, (line) => process.stderr.write(`  packer | ${line}\n`));
    stage.child = run.child;
    stage.packerLeftovers = `the ${target} build VM and ${outDir}`;
    const code = await run.done;
    stage.child = null;
    if (code !== 0) throw new ToolError(`packer build failed (exit ${code}); its output is above`, 'packer-failed');
    ctx.progress(`packer build finished in ${Math.round((Date.now() - started) / 1000)} s`);

    step(9, 'build manifest');
    // Packer made it under umask 077 (startPacker); whatever the builder plugin did, the image stays the owner's.
    if (existsSync(outDir)) chmodSync(outDir, 0o700);
    const packerManifestPath = join(outDir, 'packer-manifest.json');
    const packerManifest = existsSync(packerManifestPath)
      ? (JSON.parse(readFileSync(packerManifestPath, 'utf8')) as unknown)
      : null;
    if (!packerManifest) ctx.progress(`warning: Packer wrote no ${packerManifestPath}`);
    const manifest = {
      ...buildInfo,
      source,
      secretName: name,
      claim: {
        certificateId: secret.certificateId,
        certificateArn: secret.certificateArn,
        notAfter: info.notAfter.toISOString(),
      },
      nucleus: { version: nucleusVersion, sha256: nucleus.sha256, origin: nucleus.origin },
      plugin: { version: pluginVersion, sha256: plugin.sha256, origin: plugin.origin },
      rootCa: { sha256: createHash('sha256').update(ca.pem).digest('hex'), origin: ca.origin },
      agent: { version: agentVer, sha256: await sha256File(agentExe) },
      installerConfig: {
        sha256: createHash('sha256').update(configText).digest('hex'),
        provisioningTemplate: installer.provisioningTemplate,
        templateParameters: fleetConfig(parseInstallerConfig(configText)).templateParameters,
      },
      outputDirectory: outDir,
      packerManifest,
    };
    mkdirSync(outDir, { recursive: true });
    const manifestPath = join(outDir, MANIFEST_NAME);
    writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`, 0o644);
    stage.close();
    ctx.result({ manifest: manifestPath, ...manifest }, [`image built: ${outDir}`, `manifest: ${manifestPath}`]);
  } finally {
    stage.close();
  }
}
