// The installer `--init-config` for MANUAL provisioning (no claim certificate), which
// `greengrass-image cores create` writes per core. It shares the fleet config's path, region and endpoint rules
// (installer-config.ts).
import { ConfigError } from './errors.ts';
import {
  DEFAULT_PATHS,
  dumpInstallerYaml,
  fleetConfigProblems,
  NUCLEUS_COMPONENT,
  VERSION_RE,
} from './installer-config.ts';

/** Where the per-core certificate and key go on the device (CDF MANUAL_INSTALL defaults). */
export const MANUAL_DEFAULT_PATHS = {
  certificateFilePath: '/greengrass/v2/device.pem.crt',
  privateKeyPath: '/greengrass/v2/private.pem.key',
} as const;

export interface ManualInstallerSettings {
  thingName: string;
  nucleusVersion: string;
  awsRegion: string;
  iotDataEndpoint: string;
  iotCredentialEndpoint: string;
  iotRoleAlias: string;
  rootPath?: string;
  rootCaPath?: string;
  certificateFilePath?: string;
  privateKeyPath?: string;
  mqttPort?: number;
  greengrassDataPlanePort?: 8443 | 443;
}

/** Problems with MANUAL settings (empty = valid). Same region/endpoint/path rules as the fleet config. */
export function manualConfigProblems(s: ManualInstallerSettings): string[] {
  const problems: string[] = [];
  const fleetLike = {
    rootPath: s.rootPath ?? DEFAULT_PATHS.rootPath,
    awsRegion: s.awsRegion,
    iotDataEndpoint: s.iotDataEndpoint,
    iotCredentialEndpoint: s.iotCredentialEndpoint,
    iotRoleAlias: s.iotRoleAlias,
    rootCaPath: s.rootCaPath ?? DEFAULT_PATHS.rootCaPath,
    certificatePath: s.certificateFilePath ?? MANUAL_DEFAULT_PATHS.certificateFilePath,
    privateKeyPath: s.privateKeyPath ?? MANUAL_DEFAULT_PATHS.privateKeyPath,
    mqttPort: s.mqttPort,
    // Not used by MANUAL; filled so the shared fleet checks only report the keys that apply.
    provisioningTemplate: '-',
    claimCertificatePath: '/-',
    claimCertificatePrivateKeyPath: '/-',
  };
  problems.push(...fleetConfigProblems(fleetLike));
  if (!VERSION_RE.test(s.nucleusVersion))
    problems.push(`nucleus version must be x.y.z, got ${JSON.stringify(s.nucleusVersion)}`);
  if (typeof s.thingName !== 'string' || s.thingName === '') problems.push('thingName is required');
  if (
    s.greengrassDataPlanePort !== undefined &&
    s.greengrassDataPlanePort !== 8443 &&
    s.greengrassDataPlanePort !== 443
  )
    problems.push('greengrassDataPlanePort must be 8443 or 443');
  return problems;
}

/**
 * The installer `--init-config` for MANUAL provisioning: `system` names the thing, its certificate,
 * key and root CA (the keys the nucleus needs to count itself "configured to talk to cloud"), and the
 * Nucleus block carries region, role alias and endpoints. No provisioning plugin.
 */
export function renderManualInstallerConfig(s: ManualInstallerSettings): string {
  const problems = manualConfigProblems(s);
  if (problems.length > 0)
    throw new ConfigError(
      `manual installer settings are invalid:\n  - ${problems.join('\n  - ')}`,
      'installer-config-invalid',
    );
  const rootPath = s.rootPath ?? DEFAULT_PATHS.rootPath;
  const under = (p: string) =>
    rootPath === DEFAULT_PATHS.rootPath ? p : p.replace(DEFAULT_PATHS.rootPath, rootPath.replace(/\/+$/, ''));
  const nucleusCfg: Record<string, unknown> = {
    awsRegion: s.awsRegion,
    iotRoleAlias: s.iotRoleAlias,
    iotDataEndpoint: s.iotDataEndpoint,
    iotCredEndpoint: s.iotCredentialEndpoint,
  };
  if (s.mqttPort !== undefined) nucleusCfg.mqtt = { port: s.mqttPort };
  if (s.greengrassDataPlanePort !== undefined) nucleusCfg.greengrassDataPlanePort = s.greengrassDataPlanePort;
  const doc = {
    system: {
      certificateFilePath: s.certificateFilePath ?? under(MANUAL_DEFAULT_PATHS.certificateFilePath),
      privateKeyPath: s.privateKeyPath ?? under(MANUAL_DEFAULT_PATHS.privateKeyPath),
      rootCaPath: s.rootCaPath ?? under(DEFAULT_PATHS.rootCaPath),
      rootpath: rootPath,
      thingName: s.thingName,
    },
    services: {
      [NUCLEUS_COMPONENT]: { componentType: 'NUCLEUS', version: s.nucleusVersion, configuration: nucleusCfg },
    },
  };
  return dumpInstallerYaml(doc);
}
