// `build`: from the claim secret to a sealed golden image. The flow, one phase function each:
//   1. inputs: every flag and file checked, Packer found (inputs.ts); nothing created before this passes
//   2. claim: read from Secrets Manager, key matched, ACTIVE with a policy in IoT; the thing group exists
//   3. installer config rendered (endpoints discovered unless given)
//   4-5. artifacts: agent executable, nucleus and plugin (SHA-256 pinned), root CA (artifacts.ts)
//   6. packer init on the staged templates (run-packer.ts)
//   7. files staged in the 0700 staging dir, which is removed on every way out, signals included (staging.ts)
//   8. packer build (run-packer.ts)
//   9. the build manifest next to the image (manifest.ts)
import { AwsError } from '../../../../common/errors.ts';
import { AGENT_TARGET } from '../../agent-exe.ts';
import type { CertificateInfo } from '../../../../common/pem.ts';
import { makeClients, type Clients } from '../../aws.ts';
import { DEFAULT_NUCLEUS_VERSION } from '../../installer-settings.ts';
import { DEFAULT_PLUGIN_VERSION } from '../../artifacts.ts';
import { assertClaimProvisionable, assertThingGroupExists } from '../../bake-checks.ts';
import { parseClaimSecret, readClaimSecret, type ClaimSecret } from '../../claim-secret.ts';
import type { Context } from '../../context.ts';
import { command } from '../../command.ts';
import {
  renderInstallerConfig,
  resolveInstallerSettings,
  withSettingsRegion,
  type ConfigFlags,
} from '../../installer-settings.ts';
import { IMAGE_OPTIONS, IMAGE_SETTINGS } from '../../options.ts';
import { TARGETS } from '../../packer.ts';
import { loadSettings, settingKinds, type SettingKinds, type Settings } from '../../settings.ts';
import { agentExecutable, AMAZON_ROOT_CA1_URL, greengrassArtifacts, type BuildArtifacts } from './artifacts.ts';
import { ON_ERROR, resolveInputs, type ArtifactSources, type BuildInputs } from './inputs.ts';
import { VSPHERE_OPTIONS } from '../../vsphere-options.ts';
import { exportBuildOva, FORMAT_OPTION, type BuiltOva } from '../../ova/build-step.ts';
import { buildInfo, writeManifest } from './manifest.ts';
import { IMAGE_FAMILY } from './image-name.ts';
import { packerBuild, packerInit } from './run-packer.ts';
import { Stage, stageFiles } from './staging.ts';

export const BUILD_OPTIONS = {
  'var-file': { type: 'string', array: true, describe: 'extra Packer var-file (site values), repeatable' },
  var: { type: 'string', array: true, describe: 'extra Packer variable KEY=VALUE, repeatable' },
  'image-name': {
    type: 'string',
    describe: `the image's name (Packer's vm_name; default ${IMAGE_FAMILY}-<nucleus version>-<yyyymmdd>-<hhmmss>, UTC)`,
  },
  'output-dir': {
    type: 'string',
    describe:
      'image output directory, must not exist or be empty unless --force (default ./output-<target>/<image name>)',
  },
  force: {
    type: 'boolean',
    describe: "replace an earlier image of the same name: its output directory, vSphere's template",
  },
  'on-error': {
    type: 'string',
    describe: `Packer's -on-error: ${ON_ERROR.join(', ')} (abort keeps the build VM, which holds the claim key)`,
  },
  'plugin-version': {
    type: 'string',
    describe: `FleetProvisioningByClaim version (default ${DEFAULT_PLUGIN_VERSION})`,
  },
  'nucleus-source': { type: 'string', describe: 'nucleus zip: local path, file:// URL, URL, or mirror base URL' },
  'nucleus-sha256': {
    type: 'string',
    describe: `pinned SHA-256 of the nucleus zip (default: the pin for ${DEFAULT_NUCLEUS_VERSION})`,
  },
  'plugin-source': { type: 'string', describe: 'plugin jar: local path, file:// URL, URL, or mirror base URL' },
  'plugin-sha256': {
    type: 'string',
    describe: `pinned SHA-256 of the plugin jar (default: the pin for ${DEFAULT_PLUGIN_VERSION})`,
  },
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
    describe: `prebuilt agent executable (a Linux ${AGENT_TARGET.arch} ELF, \`npm run build\` in a checkout on such a host): no agent build`,
  },
  'cache-dir': { type: 'string', describe: 'download cache (default $XDG_CACHE_HOME/greengrass-image)' },
  'build-user': { type: 'string', describe: 'ISO builds: the build account autoinstall creates (default packer)' },
  'build-ssh-key': {
    type: 'string',
    array: true,
    describe: 'ISO builds: OpenSSH public key file for the build account, repeatable',
  },
  locale: { type: 'string', describe: 'ISO builds: installed system locale (default en_US.UTF-8)' },
  'keyboard-layout': { type: 'string', describe: 'ISO builds: keyboard layout (default us)' },
  timezone: { type: 'string', describe: 'ISO builds: time zone, a tz database name (default Etc/UTC)' },
  'apt-proxy': { type: 'string', describe: 'ISO builds: http(s) proxy for apt during and after the install' },
  ...VSPHERE_OPTIONS,
  ...FORMAT_OPTION,
} as const;

export const BUILD_SETTINGS: SettingKinds = {
  ...settingKinds(BUILD_OPTIONS),
  var: 'key-values',
  ...IMAGE_SETTINGS,
  target: 'string',
  env: 'string',
};

export interface BuildOptions extends ConfigFlags, ArtifactSources {
  target?: string;
  env?: string;
  settings?: string;
  secretPrefix?: string;
  varFile?: string[];
  var?: string[];
  imageName?: string;
  outputDir?: string;
  packer?: string;
  pluginVersion?: string;
  proxyCa?: string;
  skipAgentBuild?: boolean;
  agentExe?: string;
  cacheDir?: string;
  force?: boolean;
  onError?: string;
  format?: string;
  buildUser?: string;
  buildSshKey?: string[];
  locale?: string;
  keyboardLayout?: string;
  timezone?: string;
  aptProxy?: string;
  isoPath?: string[];
  removeCdrom?: boolean;
  autoinstallSource?: string;
  cdFile?: string[];
  cdLabel?: string;
}

export const buildCommand = command({
  command: 'build',
  describe: 'build the golden image (claim, config, agent, nucleus, plugin -> packer build)',
  builder: (y) =>
    y
      .option('target', { type: 'string', describe: `one of ${Object.keys(TARGETS).join(', ')}` })
      .option('env', { type: 'string', describe: 'environment of the claim secret' })
      .options(BUILD_OPTIONS)
      .options(IMAGE_OPTIONS),
}).runs(build);

const STEPS = 10;

interface Claim {
  secret: ClaimSecret;
  info: CertificateInfo;
}

/** Step 2: the claim the image will carry, checked to be usable for fleet provisioning. */
async function readClaim(inputs: BuildInputs, clients: () => Clients, ctx: Context): Promise<Claim> {
  const name = inputs.secretName;
  const raw = await readClaimSecret(clients(), name);
  if (raw === undefined)
    throw new AwsError(
      `secret ${name} not found: run greengrass-image claim create --env ${inputs.env} first`,
      'secret-not-found',
    );
  const claim = parseClaimSecret(raw.text, name);
  ctx.progress(
    `claim certificate ${claim.secret.certificateId} (valid until ${claim.info.notAfter.toISOString()}), key matches`,
  );
  const claimPolicies = await assertClaimProvisionable(clients(), claim.secret, name, inputs.env);
  ctx.progress(`claim certificate ACTIVE in IoT with policy ${claimPolicies.join(', ')}`);
  await assertThingGroupExists(clients(), inputs.thingGroup, inputs.env);
  ctx.progress(`thing group ${inputs.thingGroup} exists`);
  return claim;
}

export async function build(argv: BuildOptions, ctx: Context): Promise<void> {
  const settings: Settings = loadSettings(argv.settings, BUILD_SETTINGS);
  const step = (n: number, m: string) => ctx.progress(`[${n}/${STEPS}] ${m}`);

  const inputs = resolveInputs(argv, settings);
  const { packer, target, source } = inputs;
  step(1, `packer ${packer.version} (${packer.bin}); target ${target} -> ${source}`);

  const stage = new Stage(ctx.progress);
  ctx.progress(`staging in ${stage.dir} (0700; removed at the end)`);
  try {
    let clients: Clients | undefined;
    const getClients = () => (clients ??= makeClients(withSettingsRegion(ctx, settings)));

    step(2, `reading the claim from Secrets Manager (${inputs.secretName})`);
    const claim = await readClaim(inputs, getClients, ctx);

    step(3, 'rendering the installer config');
    const installer = await resolveInstallerSettings(
      { ...argv, nucleusVersion: inputs.nucleusVersion },
      settings,
      ctx,
      getClients,
    );
    const configText = renderInstallerConfig(installer);

    step(4, 'agent executable');
    const agent = await agentExecutable(inputs, ctx);
    step(5, `nucleus ${inputs.nucleusVersion} and FleetProvisioningByClaim ${inputs.pluginVersion} (sha256 pinned)`);
    const artifacts: BuildArtifacts = { agent, ...(await greengrassArtifacts(inputs, ctx)) };

    const packerRoot = packerInit(inputs, stage, ctx, step);

    step(7, 'staging files');
    const info = buildInfo(inputs, artifacts, claim.secret);
    stageFiles(stage.files, {
      nucleusZip: artifacts.nucleus.path,
      pluginJar: artifacts.plugin.path,
      configText,
      claim: claim.secret,
      rootCaPem: artifacts.rootCa.pem,
      agentExe: agent.exe,
      buildInfo: info,
    });

    step(8, `packer build -only=${source}: image ${inputs.imageName} (output ${inputs.outDir})`);
    await packerBuild(inputs, stage, packerRoot, ctx);

    let ova: BuiltOva | undefined;
    if (inputs.format === 'ova') {
      step(9, 'OVA export (streamOptimized VMDK, OVF descriptor, SHA-256 manifest), checked as an importer would');
      ova = await exportBuildOva(inputs.outDir, ctx.progress);
      ctx.progress(`OVA ${ova.path}: ${ova.bytes} bytes (sealed disk ${ova.sealedDiskBytes} bytes)`);
    } else step(9, 'no package (--format not given): the image is the builder output');

    step(10, 'build manifest');
    const { path, manifest } = await writeManifest(
      { info, inputs, artifacts, claim, configText, provisioningTemplate: installer.provisioningTemplate, ova },
      ctx,
    );
    stage.close();
    ctx.result({ manifest: path, ...manifest }, [
      `image built: ${inputs.imageName} in ${inputs.outDir}`,
      ...(ova ? [`ova: ${ova.path} (${ova.bytes} bytes)`] : []),
      `manifest: ${path}`,
    ]);
  } finally {
    stage.close();
  }
}
