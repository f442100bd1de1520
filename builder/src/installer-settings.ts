// Installer config settings from flags / settings file / discovery, for `config render` and `build`.
// The schema and rendering are common/installer-config.ts; nothing here re-implements them.
import { DEFAULT_PATHS, renderInstallerConfig, type InstallerSettings } from '../../common/installer-config.ts';
import { CSR_MIN_PLUGIN_VERSION, defaultCsrPaths } from '../../common/installer-csr.ts';
import { UsageError } from '../../common/errors.ts';
import type { Clients } from './aws.ts';
import { endpoint, type EndpointType } from './fleet/iot-steps.ts';
import type { Context } from './context.ts';
import { DEFAULT_THING_GROUP } from './claim-secret.ts';
import { keyValues, pick, type Settings } from './settings.ts';
import { validateThingGroupName } from './fleet/names.ts';

export const DEFAULT_NUCLEUS_VERSION = '2.16.0';
export const DEFAULT_ROLE_ALIAS = 'GreengrassCoreTokenExchangeRoleAlias';
export const DEFAULT_PROVISIONING_TEMPLATE = 'GreengrassFleetProvisioningTemplate';

/** The installer config's flags (options.ts, CONFIG_OPTIONS) as yargs parses them; a settings file may fill each. */
export interface ConfigFlags {
  iotDataEndpoint?: string;
  iotCredEndpoint?: string;
  roleAlias?: string;
  provisioningTemplate?: string;
  thingGroup?: string;
  templateParam?: string[];
  nucleusVersion?: string;
  mqttPort?: number;
  proxyUrl?: string;
  proxyUsername?: string;
  rootPath?: string;
  csr?: boolean;
}

/** The AWS clients' region: --region, else the settings file's `region` (else the SDK's chain). */
export function withSettingsRegion(ctx: Context, settings: Settings): Context {
  return { ...ctx, region: ctx.region ?? (settings.region as string | undefined) };
}

/** templateParameters from --thing-group and --template-param; the ThingGroupName is checked (it is baked into the image). */
export function templateParameters(argv: ConfigFlags, settings: Settings): Record<string, string> {
  const params = {
    ThingGroupName: pick<string>(argv, settings, 'thing-group') ?? DEFAULT_THING_GROUP,
    ...keyValues(pick(argv, settings, 'template-param'), '--template-param'),
  };
  validateThingGroupName(
    params.ThingGroupName,
    params.ThingGroupName === pick(argv, settings, 'thing-group')
      ? '--thing-group'
      : 'templateParameters.ThingGroupName',
  );
  return params;
}

export async function resolveInstallerSettings(
  argv: ConfigFlags,
  settings: Settings,
  ctx: Context,
  clients: () => Clients,
): Promise<InstallerSettings> {
  const params = templateParameters(argv, settings);
  const region = ctx.region ?? (settings.region as string | undefined) ?? (await clients().region());
  const discovered = (type: EndpointType) => {
    ctx.progress(`discovering the ${type} endpoint (DescribeEndpoint)`);
    return endpoint(clients(), type);
  };
  const data = pick<string>(argv, settings, 'iot-data-endpoint') || (await discovered('iot:Data-ATS'));
  const cred = pick<string>(argv, settings, 'iot-cred-endpoint') || (await discovered('iot:CredentialProvider'));
  const mqttPort = pick<number | string>(argv, settings, 'mqtt-port');
  const port = mqttPort === undefined ? undefined : Number(mqttPort);
  if (port !== undefined && !Number.isInteger(port))
    throw new UsageError(`--mqtt-port must be a number, got ${JSON.stringify(mqttPort)}`);
  const proxy = proxySettings(argv, settings);
  const rootPath = pick<string>(argv, settings, 'root-path') ?? DEFAULT_PATHS.rootPath;
  const under = (p: string) =>
    rootPath === DEFAULT_PATHS.rootPath ? p : p.replace(DEFAULT_PATHS.rootPath, rootPath.replace(/\/+$/, ''));
  return {
    nucleusVersion: pick<string>(argv, settings, 'nucleus-version') ?? DEFAULT_NUCLEUS_VERSION,
    rootPath,
    awsRegion: region,
    iotDataEndpoint: data,
    iotCredentialEndpoint: cred,
    iotRoleAlias: pick<string>(argv, settings, 'role-alias') ?? DEFAULT_ROLE_ALIAS,
    provisioningTemplate: pick<string>(argv, settings, 'provisioning-template') ?? DEFAULT_PROVISIONING_TEMPLATE,
    claimCertificatePath: under(DEFAULT_PATHS.claimCertificatePath),
    claimCertificatePrivateKeyPath: under(DEFAULT_PATHS.claimCertificatePrivateKeyPath),
    rootCaPath: under(DEFAULT_PATHS.rootCaPath),
    templateParameters: params,
    ...(port !== undefined ? { mqttPort: port } : {}),
    ...proxy,
    ...(pick<boolean>(argv, settings, 'csr') ? defaultCsrPaths(rootPath) : {}),
  };
}

/** CSR mode needs a plugin that reads csrPath: an older one would silently have AWS make every device's key. */
export function checkCsrPluginVersion(csr: boolean | undefined, pluginVersion: string): void {
  if (!csr) return;
  const [a, b, c] = pluginVersion.split('.').map(Number);
  const [x, y, z] = CSR_MIN_PLUGIN_VERSION.split('.').map(Number) as [number, number, number];
  if ([a, b, c].some((n) => n === undefined || !Number.isInteger(n))) return; // a bad version is refused where it is fetched
  if (a! * 1e6 + b! * 1e3 + c! < x * 1e6 + y * 1e3 + z)
    throw new UsageError(
      `--csr needs FleetProvisioningByClaim ${CSR_MIN_PLUGIN_VERSION} or later (csrPath is ignored by ${pluginVersion}, which has AWS make the key): use --plugin-version ${CSR_MIN_PLUGIN_VERSION} or later, or drop --csr`,
    );
}

/** Where the proxy password comes from: never argv (other users see it in the process list). */
export const PROXY_PASSWORD_ENV = 'GREENGRASS_IMAGE_PROXY_PASSWORD';

function proxySettings(
  argv: ConfigFlags,
  settings: Settings,
): { proxyUrl?: string; proxyUsername?: string; proxyPassword?: string } {
  const proxyUrl = pick<string>(argv, settings, 'proxy-url');
  const proxyUsername = pick<string>(argv, settings, 'proxy-username');
  const proxyPassword = process.env[PROXY_PASSWORD_ENV] || undefined;
  if (!proxyUrl) {
    if (proxyUsername || proxyPassword)
      throw new UsageError(`--proxy-username and ${PROXY_PASSWORD_ENV} need --proxy-url`);
    return {};
  }
  let url: URL;
  try {
    url = new URL(proxyUrl);
  } catch {
    throw new UsageError(
      `--proxy-url ${JSON.stringify(proxyUrl)} is not a URL (http://host:port or https://host:port)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--proxy-url scheme ${url.protocol} is not supported: use http:// or https://`);
  if (url.password && typeof argv.proxyUrl === 'string') {
    throw new UsageError(
      `--proxy-url carries a password: put it in ${PROXY_PASSWORD_ENV} instead (a command line is visible to every user)`,
    );
  }
  return { proxyUrl, ...(proxyUsername ? { proxyUsername } : {}), ...(proxyPassword ? { proxyPassword } : {}) };
}

export { renderInstallerConfig };
