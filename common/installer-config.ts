// The Greengrass installer `--init-config` file for fleet provisioning by claim: its schema,
// rendering (builder, at bake time) and filling-in (agent, at first boot). One module so the
// two sides can never disagree on key names or on the ThingName placeholder.
import yaml from 'js-yaml';
import { ConfigError } from './errors.ts';
import { renderTokens, templateTokens } from './thing-name.ts';
import { nucleusReadingDifferences } from './yaml11.ts';
import { httpsProxy, nucleusNetworkConfig } from './installer-network.ts';
import { csrConfigProblems } from './installer-csr.ts';

export const NUCLEUS_COMPONENT = 'aws.greengrass.Nucleus';
export const FLEET_PLUGIN_COMPONENT = 'aws.greengrass.FleetProvisioningByClaim';

/** Placeholder the builder writes and the agent replaces with the validated ThingName. */
export const THING_NAME_TOKEN = 'thingName';
export const THING_NAME_PLACEHOLDER = `{{${THING_NAME_TOKEN}}}`;

/** Keys the FleetProvisioningByClaim plugin refuses to run without (it throws, not retried). */
export const PLUGIN_REQUIRED_KEYS = [
  'rootPath',
  'provisioningTemplate',
  'claimCertificatePath',
  'claimCertificatePrivateKeyPath',
  'rootCaPath',
  'iotDataEndpoint',
] as const;
/** Optional for the plugin, but without them the nucleus never counts itself "configured to talk to cloud". */
export const NUCLEUS_REQUIRED_KEYS = ['awsRegion', 'iotCredentialEndpoint', 'iotRoleAlias'] as const;

export interface FleetProvisioningConfig {
  rootPath: string;
  awsRegion: string;
  iotDataEndpoint: string;
  iotCredentialEndpoint: string;
  iotRoleAlias: string;
  provisioningTemplate: string;
  claimCertificatePath: string;
  claimCertificatePrivateKeyPath: string;
  rootCaPath: string;
  templateParameters?: Record<string, string>;
  mqttPort?: number;
  deviceId?: string;
  proxyUrl?: string;
  proxyUsername?: string;
  proxyPassword?: string;
  /** Plugin >= 1.2.2: where the device certificate and key are written (default <rootPath>/thingCert.crt, privKey.key). */
  certificatePath?: string;
  privateKeyPath?: string;
  /** Plugin >= 1.2.0, CSR mode (common/installer-csr.ts): the device's CSR, and the key it was made from. */
  csrPath?: string;
  csrPrivateKeyPath?: string;
}

export interface InstallerSettings extends FleetProvisioningConfig {
  nucleusVersion: string;
}

export interface InstallerConfigDocument {
  services: {
    [NUCLEUS_COMPONENT]: { version: string; configuration?: Record<string, unknown> };
    [FLEET_PLUGIN_COMPONENT]: { configuration: FleetProvisioningConfig };
    [other: string]: unknown;
  };
  [other: string]: unknown;
}

export const DEFAULT_PATHS = {
  rootPath: '/greengrass/v2',
  rootCaPath: '/greengrass/v2/AmazonRootCA1.pem',
  claimCertificatePath: '/greengrass/v2/claim-certs/claim.pem.crt',
  claimCertificatePrivateKeyPath: '/greengrass/v2/claim-certs/claim.private.pem.key',
} as const;

export const VERSION_RE = /^\d+\.\d+\.\d+$/;
const REGION_RE = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

/** The device certificate and key paths the plugin will write, defaults applied. */
export function deviceCredentialPaths(cfg: FleetProvisioningConfig): {
  certificatePath: string;
  privateKeyPath: string;
} {
  return {
    certificatePath: cfg.certificatePath ?? `${cfg.rootPath.replace(/\/+$/, '')}/thingCert.crt`,
    privateKeyPath: cfg.privateKeyPath ?? `${cfg.rootPath.replace(/\/+$/, '')}/privKey.key`,
  };
}

/** Every problem with a fleet-provisioning configuration block, as human-readable lines (empty = valid). */
export function fleetConfigProblems(cfg: unknown): string[] {
  const problems: string[] = [];
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) {
    return [`services."${FLEET_PLUGIN_COMPONENT}".configuration is missing or not a mapping`];
  }
  const c = cfg as Record<string, unknown>;
  for (const key of [...PLUGIN_REQUIRED_KEYS, ...NUCLEUS_REQUIRED_KEYS]) {
    const v = c[key];
    if (typeof v !== 'string' || v.trim() === '') problems.push(`${key} is required (non-empty string)`);
  }
  for (const key of [
    'rootPath',
    'claimCertificatePath',
    'claimCertificatePrivateKeyPath',
    'rootCaPath',
    'certificatePath',
    'privateKeyPath',
    'csrPath',
    'csrPrivateKeyPath',
  ]) {
    const v = c[key];
    if (typeof v === 'string' && v !== '' && !v.startsWith('/'))
      problems.push(`${key} must be an absolute path, got ${JSON.stringify(v)}`);
  }
  const str = (k: string) => (typeof c[k] === 'string' ? (c[k] as string) : undefined);
  const root = (str('rootPath') ?? '').replace(/\/+$/, '');
  problems.push(
    ...csrConfigProblems(c, {
      claimCertificatePath: str('claimCertificatePath'),
      claimCertificatePrivateKeyPath: str('claimCertificatePrivateKeyPath'),
      rootCaPath: str('rootCaPath'),
      certificatePath: str('certificatePath') ?? `${root}/thingCert.crt`,
      privateKeyPath: str('privateKeyPath') ?? `${root}/privKey.key`,
    }),
  );
  if (typeof c.awsRegion === 'string' && c.awsRegion !== '' && !REGION_RE.test(c.awsRegion)) {
    problems.push(`awsRegion ${JSON.stringify(c.awsRegion)} is not an AWS region name`);
  }
  for (const key of ['iotDataEndpoint', 'iotCredentialEndpoint']) {
    const v = c[key];
    if (
      typeof v === 'string' &&
      /\.amazonaws\.com$/.test(v) &&
      typeof c.awsRegion === 'string' &&
      !v.includes(`.${c.awsRegion}.`)
    ) {
      problems.push(
        `${key} ${JSON.stringify(v)} is not in region ${c.awsRegion}: the nucleus refuses endpoints from another region`,
      );
    }
    if (typeof v === 'string' && /[\s/:]/.test(v))
      problems.push(`${key} must be a bare host name, got ${JSON.stringify(v)}`);
  }
  if (
    c.mqttPort !== undefined &&
    !(Number.isInteger(c.mqttPort) && (c.mqttPort as number) > 0 && (c.mqttPort as number) < 65536)
  ) {
    problems.push(`mqttPort must be a port number, got ${JSON.stringify(c.mqttPort)}`);
  }
  if (c.proxyUrl !== undefined && !(typeof c.proxyUrl === 'string' && /^https?:\/\/[^\s]+$/.test(c.proxyUrl))) {
    problems.push(`proxyUrl must be an http:// or https:// URL`);
  }
  if (c.templateParameters !== undefined) {
    const tp = c.templateParameters;
    if (!tp || typeof tp !== 'object' || Array.isArray(tp))
      problems.push('templateParameters must be a mapping of names to strings');
    else {
      for (const [k, v] of Object.entries(tp)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
          problems.push(`templateParameters.${k} must be a scalar`);
      }
    }
  }
  return problems;
}

/** Problems with the whole document (nucleus block + plugin block). */
export function installerConfigProblems(doc: unknown): string[] {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return ['the installer config is not a YAML mapping'];
  const services = (doc as Record<string, unknown>).services;
  if (!services || typeof services !== 'object') return ['the installer config has no "services" mapping'];
  const s = services as Record<string, unknown>;
  const problems: string[] = [];
  const nucleus = s[NUCLEUS_COMPONENT] as Record<string, unknown> | undefined;
  if (!nucleus || typeof nucleus !== 'object') problems.push(`services."${NUCLEUS_COMPONENT}" is missing`);
  else if (typeof nucleus.version !== 'string' || !VERSION_RE.test(nucleus.version)) {
    problems.push(`services."${NUCLEUS_COMPONENT}".version must pin the nucleus version (x.y.z)`);
  }
  const plugin = s[FLEET_PLUGIN_COMPONENT] as Record<string, unknown> | undefined;
  if (!plugin || typeof plugin !== 'object') problems.push(`services."${FLEET_PLUGIN_COMPONENT}" is missing`);
  else
    problems.push(
      ...fleetConfigProblems(plugin.configuration).map(
        (p) => `services."${FLEET_PLUGIN_COMPONENT}".configuration: ${p}`,
      ),
    );
  return problems;
}

/** Parse and validate installer-config YAML; throws ConfigError listing every problem. */
export function parseInstallerConfig(text: string, source = 'installer config'): InstallerConfigDocument {
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    throw new ConfigError(
      `${source} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
      'installer-config-yaml',
      { cause: err },
    );
  }
  const problems = installerConfigProblems(doc);
  if (problems.length > 0) {
    throw new ConfigError(`${source} is invalid:\n  - ${problems.join('\n  - ')}`, 'installer-config-invalid');
  }
  return doc as InstallerConfigDocument;
}

export function fleetConfig(doc: InstallerConfigDocument): FleetProvisioningConfig {
  return doc.services[FLEET_PLUGIN_COMPONENT].configuration;
}

/** Build the installer config document from settings (builder side). */
export function buildInstallerConfig(settings: InstallerSettings): InstallerConfigDocument {
  const { nucleusVersion, ...fleet } = settings;
  const plugin: FleetProvisioningConfig = {
    ...fleet,
    templateParameters: { ThingName: THING_NAME_PLACEHOLDER, ...(fleet.templateParameters ?? {}) },
  };
  for (const k of Object.keys(plugin) as (keyof FleetProvisioningConfig)[]) {
    if (plugin[k] === undefined) delete plugin[k];
  }
  const doc: InstallerConfigDocument = {
    ...(httpsProxy(plugin.proxyUrl) ? { system: { rootCaPath: plugin.rootCaPath } } : {}),
    services: {
      [NUCLEUS_COMPONENT]: {
        version: nucleusVersion,
        configuration: {
          awsRegion: settings.awsRegion,
          iotRoleAlias: settings.iotRoleAlias,
          iotDataEndpoint: settings.iotDataEndpoint,
          iotCredEndpoint: settings.iotCredentialEndpoint,
          ...nucleusNetworkConfig(plugin),
        },
      },
      [FLEET_PLUGIN_COMPONENT]: { configuration: plugin },
    },
  };
  const problems = installerConfigProblems(doc);
  if (problems.length > 0)
    throw new ConfigError(
      `installer settings are invalid:\n  - ${problems.join('\n  - ')}`,
      'installer-config-invalid',
    );
  return doc;
}

/**
 * Installer YAML as the nucleus must read it. Jackson types plain scalars by YAML 1.1 rules (`123_456` is a
 * number there, `off` a boolean), so every string is written double-quoted; the text is then read back
 * under those rules, and anything that would still come out different is a bug, not a config to ship.
 */
export function dumpInstallerYaml(doc: object): string {
  const text = `---\n${yaml.dump(doc, { noRefs: true, lineWidth: -1, quotingType: '"', forceQuotes: true })}`;
  const diff = nucleusReadingDifferences(doc, text);
  if (diff.length > 0) throw new Error(`installer YAML would be read differently by the nucleus: ${diff.join('; ')}`);
  return text;
}

export function dumpInstallerConfig(doc: InstallerConfigDocument): string {
  return dumpInstallerYaml(doc);
}

/** Render settings to YAML text (builder side). */
export function renderInstallerConfig(settings: InstallerSettings): string {
  return dumpInstallerConfig(buildInstallerConfig(settings));
}

/** Tokens the template parameters ask for, e.g. ["thingName", "serial"]. */
export function requiredParameterTokens(doc: InstallerConfigDocument): string[] {
  const tp = fleetConfig(doc).templateParameters ?? {};
  return [...new Set(Object.values(tp).flatMap((v) => templateTokens(String(v))))];
}

/**
 * Fill the `{{token}}` placeholders in templateParameters (agent side). Returns a new document;
 * the input is not modified. Every value is written as a YAML string by js-yaml, so a name with
 * YAML-special characters can never change the document's structure.
 */
export function fillTemplateParameters(
  doc: InstallerConfigDocument,
  values: Readonly<Record<string, string | undefined>>,
): InstallerConfigDocument {
  const copy = structuredClone(doc);
  const cfg = fleetConfig(copy);
  const tp = cfg.templateParameters ?? {};
  if (!Object.values(tp).some((v) => templateTokens(String(v)).includes(THING_NAME_TOKEN))) {
    throw new ConfigError(
      `templateParameters has no ${THING_NAME_PLACEHOLDER} placeholder: the provisioning template would not receive this machine's ThingName`,
      'installer-config-no-thing-name',
    );
  }
  const filled: Record<string, string> = {};
  for (const [k, v] of Object.entries(tp)) filled[k] = renderTokens(String(v), values);
  cfg.templateParameters = filled;
  return copy;
}
