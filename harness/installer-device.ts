// A device tree like the golden image's, for tests that run the installer stand-in directly: claim
// cert/key, root CA and a filled installer config under a temp dir. Removed (after its nucleus is
// stopped) when the test ends, so test keys do not outlive it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dumpInstallerConfig,
  fillTemplateParameters,
  parseInstallerConfig,
  renderInstallerConfig,
} from '../common/installer-config.ts';
import type { KeyPair } from '../standins/pki.ts';
import { stopStandinNucleus, type InstallerStandinJars } from './standin-installer.ts';

export interface InstallerDevice {
  dir: string;
  root: string;
  systemd: string;
  configPath: string;
}

export interface InstallerDeviceOptions {
  ca: KeyPair;
  claim: KeyPair;
  /** Provisioning stand-in's MQTT port. */
  port: number;
  thingName: string;
  template: string;
  endpoint?: string;
  extraParams?: Record<string, string>;
  /** Stops this device's nucleus elsewhere (e.g. in a shared stand-in host) before the tree is removed. */
  beforeCleanup?: (root: string) => Promise<unknown>;
}

export function makeInstallerDevice(
  t: { teardown(fn: () => unknown): void },
  o: InstallerDeviceOptions,
): InstallerDevice {
  const dir = mkdtempSync(join(tmpdir(), 'gg-installer-standin-'));
  const root = join(dir, 'greengrass', 'v2');
  const certs = join(root, 'claim-certs');
  mkdirSync(certs, { recursive: true });
  writeFileSync(join(certs, 'claim.pem.crt'), o.claim.certificatePem);
  writeFileSync(join(certs, 'claim.private.pem.key'), o.claim.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(root, 'AmazonRootCA1.pem'), o.ca.certificatePem);
  const text = renderInstallerConfig({
    nucleusVersion: '2.16.0',
    rootPath: root,
    awsRegion: 'eu-west-1',
    iotDataEndpoint: o.endpoint ?? 'localhost',
    iotCredentialEndpoint: 'credentials.standin.local',
    iotRoleAlias: 'GreengrassTokenExchangeRoleAlias',
    provisioningTemplate: o.template,
    claimCertificatePath: join(certs, 'claim.pem.crt'),
    claimCertificatePrivateKeyPath: join(certs, 'claim.private.pem.key'),
    rootCaPath: join(root, 'AmazonRootCA1.pem'),
    mqttPort: o.port,
    ...(o.extraParams ? { templateParameters: { ThingName: '{{thingName}}', ...o.extraParams } } : {}),
  });
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    dumpInstallerConfig(fillTemplateParameters(parseInstallerConfig(text), { thingName: o.thingName })),
    { mode: 0o600 },
  );
  t.teardown(async () => {
    await o.beforeCleanup?.(root).catch(() => undefined);
    await stopStandinNucleus(root);
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, root, systemd: join(dir, 'systemd'), configPath };
}

/** The seed's installer command line for this device (paths from the device tree). */
export function installerArgs(jars: InstallerStandinJars, d: InstallerDevice, extra: string[] = []): string[] {
  return [
    `-Droot=${d.root}`,
    '-Dlog.store=FILE',
    '-jar',
    jars.installerJar,
    '--trusted-plugin',
    jars.pluginJar,
    '--init-config',
    d.configPath,
    '--component-default-user',
    'ggc_user:ggc_group',
    '--setup-system-service',
    'true',
    ...extra,
  ];
}
