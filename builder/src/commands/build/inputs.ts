// build, step 1: every input checked before anything is created or any AWS call is made (flags win over the
// settings file). What fails here fails with nothing staged and nothing to clean up.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, UsageError } from '../../../../common/errors.ts';
import { DEFAULT_PATHS } from '../../../../common/installer-config.ts';
import { parseCertificate } from '../../../../common/pem.ts';
import { agentSource, HOST, type AgentSource, type Platform } from '../../agent-exe.ts';
import { DEFAULT_PLUGIN_VERSION, defaultCacheDir } from '../../artifacts.ts';
import { DEFAULT_SECRET_PREFIX, secretName } from '../../claim-secret.ts';
import { checkCsrPluginVersion, DEFAULT_NUCLEUS_VERSION, templateParameters } from '../../installer-settings.ts';
import { detectPacker, REPO_ROOT, targetNamed, TARGETS, type PackerInfo, type Target } from '../../packer.ts';
import { fileOrFail, keyValues, pick, pickFiles, pickList, type Settings } from '../../settings.ts';
import { vsphereVarArgs } from '../../vsphere-options.ts';
import { checkFormat } from '../../ova/build-step.ts';
import {
  generateBuildPassword,
  readAuthorizedKeys,
  USER_DATA_DEFAULTS,
  type UserDataSettings,
} from '../../user-data.ts';
import type { BuildOptions } from './index.ts';
import { checkedImageName } from './image-name.ts';

/** Where the nucleus, the plugin and the device's root CA come from (default: downloaded, pinned). */
export interface ArtifactSources {
  nucleusSource?: string;
  nucleusSha256?: string;
  pluginSource?: string;
  pluginSha256?: string;
  /** Root CA PEM file for the device (default: Amazon Root CA 1, downloaded). */
  rootCa?: string;
}

export interface BuildInputs extends ArtifactSources {
  target: Target;
  /** The Packer source of the target (`-only=`). */
  source: string;
  env: string;
  secretName: string;
  varFiles: string[];
  vars: Record<string, string>;
  thingGroup: string;
  /** Packer's vm_name: the image file, the vSphere template, the OVA (image-name.ts). */
  imageName: string;
  outDir: string;
  /** --format: package the image (ova), or leave it as the builder made it. */
  format: ReturnType<typeof checkFormat>;
  /** `-var` arguments of the vSphere-only options (vsphere-options.ts). */
  vsphereArgs: string[];
  /** Packer's -force: replace an earlier build's output dir or vSphere template of the same name. */
  force: boolean;
  /** Packer's -on-error, when given. */
  onError?: OnError;
  cacheDir: string;
  nucleusVersion: string;
  pluginVersion: string;
  /** PEM of --proxy-ca, checked to be a CA. */
  proxyCa?: string;
  agent: AgentSource;
  packer: PackerInfo;
  /** ISO builds' autoinstall user-data; its password reaches Packer as PKR_VAR_ssh_password. */
  userData: UserDataSettings;
}

/** The files the image takes from the repository (staging.ts copies them). */
export const REPOSITORY_FILES = {
  'agent.yaml': 'agent/agent.yaml',
  'greengrass-firstboot.service': 'systemd/greengrass-firstboot.service',
  'agent.md': 'docs/agent.md',
} as const;

/** The proxy's CA: the Greengrass guide has it appended to the core's root CA file for an HTTPS proxy. */
function readProxyCa(path: string): string {
  const pem = readFileSync(path, 'utf8');
  const cert = parseCertificate(pem, `--proxy-ca ${path}`);
  if (!cert.ca) throw new ConfigError(`--proxy-ca ${path} is not a CA certificate`, 'proxy-ca-invalid');
  return pem;
}

/** Packer variables the builder sets itself, and the flag that sets each (staging_dir: none). */
const VARS_OF_FLAGS = [
  ['staging_dir', ''],
  ['output_directory', '; use --output-dir for the output'],
  ['vm_name', '; use --image-name for the image name'],
] as const;

function checkedTarget(target: string | undefined): Target {
  if (!target) throw new UsageError(`--target is required (${Object.keys(TARGETS).join(', ')})`);
  return targetNamed(target);
}

/** What Packer's -on-error takes (Packer 1.6 and later), but `ask`: Packer runs here without a terminal. */
export const ON_ERROR = ['cleanup', 'abort', 'run-cleanup-provisioner'] as const;
export type OnError = (typeof ON_ERROR)[number];

function checkedOnError(v: string | undefined): OnError | undefined {
  if (v === undefined) return undefined;
  if (!(ON_ERROR as readonly string[]).includes(v))
    throw new UsageError(`--on-error ${JSON.stringify(v)}: use one of ${ON_ERROR.join(', ')}`);
  return v as OnError;
}

/** Output dir: Packer needs a fresh one, or replaces it with -force. */
function checkedOutDir(dir: string, force: boolean, imageName: string): string {
  const outDir = resolve(dir);
  if (!existsSync(outDir)) return outDir;
  if (!statSync(outDir).isDirectory())
    throw new ConfigError(`--output-dir ${outDir} exists and is not a directory`, 'output-not-directory');
  if (!force && readdirSync(outDir).length > 0)
    throw new ConfigError(
      `output dir ${outDir} already exists and is not empty (an earlier build of image ${imageName}?): pass --force to replace it, or another --image-name or --output-dir`,
      'output-exists',
    );
  return outDir;
}

/** `host`: the build host's platform (a parameter so tests can name another). */
export function resolveInputs(argv: BuildOptions, settings: Settings, host: Platform = HOST): BuildInputs {
  const p = <T = string>(k: string) => pick<T>(argv, settings, k);
  const target = checkedTarget(p('target'));
  const format = checkFormat(p('format'), target);
  const env = p('env');
  if (!env) throw new UsageError('--env is required (the claim secret is <prefix>/<env>/claims-certificate)');
  const name = secretName(p('secret-prefix') ?? DEFAULT_SECRET_PREFIX, env);
  const varFiles = pickFiles(argv, settings, 'var-file');
  const vars = keyValues(p('var'), '--var');
  for (const [k, hint] of VARS_OF_FLAGS) if (k in vars) throw new UsageError(`--var ${k} is set by the builder${hint}`);
  const vsphereArgs = vsphereVarArgs((k) => p<unknown>(k), target);
  const thingGroup = templateParameters(argv, settings).ThingGroupName; // baked into the image: checked before any AWS call
  // The image's scripts (packer/scripts) and the agent's config (agent/agent.yaml) lay Greengrass out under the default
  // root; a config.yaml pointing elsewhere would name claim files that are not there, and every clone would stop at exit 3.
  const rootPath = p('root-path');
  if (rootPath !== undefined && rootPath.replace(/\/+$/, '') !== DEFAULT_PATHS.rootPath) {
    throw new UsageError(
      `--root-path ${rootPath}: build bakes Greengrass into ${DEFAULT_PATHS.rootPath} only (the image's scripts and agent/agent.yaml use it); --root-path is for config render`,
    );
  }
  const force = p<boolean>('force') ?? false;
  const onError = checkedOnError(p('on-error'));
  const nucleusVersion = p('nucleus-version') ?? DEFAULT_NUCLEUS_VERSION;
  const imageName = checkedImageName(p('image-name'), nucleusVersion);
  const outDir = checkedOutDir(p('output-dir') ?? join(`output-${target}`, imageName), force, imageName);
  const cacheDir = resolve(p('cache-dir') ?? defaultCacheDir());
  const pluginVersion = p('plugin-version') ?? DEFAULT_PLUGIN_VERSION;
  checkCsrPluginVersion(p<boolean>('csr'), pluginVersion);
  const agent = agentSource(p('agent-exe'), p<boolean>('skip-agent-build'), host);
  for (const f of [...Object.values(REPOSITORY_FILES), `packer/${target}.pkrvars.hcl`])
    fileOrFail(join(REPO_ROOT, f), 'repository file');

  const proxyCaPath = p('proxy-ca');
  const proxyCa = proxyCaPath === undefined ? undefined : readProxyCa(fileOrFail(proxyCaPath, '--proxy-ca'));
  const proxyUrl = p('proxy-url');
  if (proxyUrl?.startsWith('https://') && !proxyCa) {
    throw new UsageError(
      `--proxy-url ${proxyUrl} is an HTTPS proxy: pass --proxy-ca PATH (the core trusts only the CAs in its root CA file)`,
    );
  }
  const packer = detectPacker(p('packer') ?? 'packer');
  const userData: UserDataSettings = {
    username: p('build-user') ?? USER_DATA_DEFAULTS.username,
    // Packer's own environment convention keeps a chosen password out of argv; otherwise one per build.
    password: process.env.PKR_VAR_ssh_password || generateBuildPassword(),
    authorizedKeys: readAuthorizedKeys(pickList(argv, settings, 'build-ssh-key')),
    locale: p('locale') ?? USER_DATA_DEFAULTS.locale,
    keyboardLayout: p('keyboard-layout') ?? USER_DATA_DEFAULTS.keyboardLayout,
    timezone: p('timezone') ?? USER_DATA_DEFAULTS.timezone,
    aptProxy: p('apt-proxy') ?? USER_DATA_DEFAULTS.aptProxy,
  };
  return {
    target,
    source: TARGETS[target],
    env,
    secretName: name,
    varFiles,
    vars,
    thingGroup,
    imageName,
    outDir,
    format,
    vsphereArgs,
    force,
    onError,
    cacheDir,
    nucleusVersion,
    pluginVersion,
    nucleusSource: p('nucleus-source'),
    nucleusSha256: p('nucleus-sha256'),
    pluginSource: p('plugin-source'),
    pluginSha256: p('plugin-sha256'),
    rootCa: p('root-ca'),
    proxyCa,
    agent,
    packer,
    userData,
  };
}
