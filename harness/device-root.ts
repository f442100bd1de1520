// Test fixture (tap-free, shared): lays out a temp "device root" the way the golden image does —
// installer config template, installer + plugin jars, claim certificate/key (signed by a stand-in
// CA), root CA, hostname and DMI files — plus an agent.yaml pointing every path into it, so the
// first-boot agent runs unprivileged. Nothing here touches the real /etc, /var or /greengrass.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { renderInstallerConfig, type InstallerSettings } from '../common/installer-config.ts';
import { DEFAULT_AGENT_CONFIG, type AgentConfig } from '../agent/src/agent-config.ts';
import { createCa, issueCertificate, type KeyPair } from '../standins/pki.ts';

export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends (infer U)[]
    ? U[]
    : T[K] extends object | null
      ? DeepPartial<NonNullable<T[K]>> | T[K]
      : T[K];
};

export interface DeviceRootOptions {
  /** Contents of the hostname file (default "gg-clone-0001"). */
  hostname?: string;
  /** If set, written as the template hostname (what `seal` records). */
  templateHostname?: string;
  dmiSerial?: string;
  dmiUuid?: string;
  /** The IoT data endpoint the installer config names (default 127.0.0.1:8883). */
  endpoint?: { host: string; port: number };
  /** CA that signs the claim certificate (default: a new stand-in CA). */
  ca?: KeyPair;
  /** The claim certificate/key to install (default: issued by `ca`, valid from yesterday for a year). */
  claim?: KeyPair;
  /** Installer and plugin jars to copy in; default: placeholder files (enough for preflight, not for installing). */
  jars?: { installerJar: string; pluginJar: string };
  /** Override installer settings (e.g. extra templateParameters, provisioningTemplate). */
  settings?: Partial<InstallerSettings>;
  /** Raw text for the installer config template (bypasses `settings`). */
  templateText?: string;
  /** Agent config overrides, merged per section over the fixture's defaults. */
  agent?: DeepPartial<AgentConfig>;
}

export interface DeviceRoot {
  dir: string;
  /** The Greengrass root (rootPath / -Droot). */
  ggRoot: string;
  configPath: string;
  hostnameFile: string;
  templateHostnameFile: string;
  templatePath: string;
  renderedConfig: string;
  stateFile: string;
  sentinel: string;
  claimCertPath: string;
  claimKeyPath: string;
  rootCaPath: string;
  /** GG_STANDIN_SYSTEMD_DIR for the installer stand-in; greengrass.service's enable link lives under it. */
  systemdDir: string;
  enabledLink: string;
  tlogPath: string;
  nucleusLogPath: string;
  ca: KeyPair;
  claim: KeyPair;
  settings: InstallerSettings;
  agent: AgentConfig;
  /** Rewrite agent.yaml with more overrides (merged over the current config). */
  writeAgentConfig(overrides: DeepPartial<AgentConfig>): void;
  setHostname(name: string): void;
  /** Env for running the agent: GG_STANDIN_SYSTEMD_DIR set, JOURNAL_STREAM cleared. */
  env: Record<string, string>;
  cleanup(): void;
}

function merge(base: AgentConfig, o: DeepPartial<AgentConfig> | undefined): AgentConfig {
  const out = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const [k, v] of Object.entries(o ?? {})) {
    if (v && typeof v === 'object' && !Array.isArray(v))
      out[k] = { ...(out[k] ?? {}), ...(v as Record<string, unknown>) };
  }
  return out as unknown as AgentConfig;
}

let sharedCa: KeyPair | undefined;

export function createDeviceRoot(opts: DeviceRootOptions = {}): DeviceRoot {
  const dir = mkdtempSync(join(tmpdir(), 'gg-device-'));
  const ggRoot = join(dir, 'greengrass', 'v2');
  const etc = join(dir, 'etc', 'greengrass-firstboot');
  const state = join(dir, 'var', 'lib', 'greengrass-firstboot');
  const systemdDir = join(dir, 'etc', 'systemd', 'system');
  const dmi = join(dir, 'sys', 'class', 'dmi', 'id');
  for (const d of [ggRoot, join(ggRoot, 'installer', 'lib'), join(ggRoot, 'claim-certs'), etc, state, systemdDir, dmi])
    mkdirSync(d, { recursive: true });
  chmodSync(join(ggRoot, 'claim-certs'), 0o700);

  const ca = opts.ca ?? (sharedCa ??= createCa());
  const claim = opts.claim ?? issueCertificate(ca, { commonName: 'claim' });
  const claimCertPath = join(ggRoot, 'claim-certs', 'claim.pem.crt');
  const claimKeyPath = join(ggRoot, 'claim-certs', 'claim.private.pem.key');
  const rootCaPath = join(ggRoot, 'AmazonRootCA1.pem');
  writeFileSync(claimCertPath, claim.certificatePem, { mode: 0o644 });
  writeFileSync(claimKeyPath, claim.privateKeyPem, { mode: 0o600 });
  writeFileSync(rootCaPath, ca.certificatePem, { mode: 0o644 });

  const installerJar = join(ggRoot, 'installer', 'lib', 'Greengrass.jar');
  const pluginJar = join(ggRoot, 'installer', 'aws.greengrass.FleetProvisioningByClaim.jar');
  if (opts.jars) {
    copyFileSync(opts.jars.installerJar, installerJar);
    copyFileSync(opts.jars.pluginJar, pluginJar);
  } else {
    writeFileSync(installerJar, 'placeholder: not a real jar\n');
    writeFileSync(pluginJar, 'placeholder: not a real jar\n');
  }

  const endpoint = opts.endpoint ?? { host: '127.0.0.1', port: 8883 };
  const settings: InstallerSettings = {
    nucleusVersion: '2.16.0',
    rootPath: ggRoot,
    awsRegion: 'us-east-1',
    iotDataEndpoint: endpoint.host,
    iotCredentialEndpoint: 'credentials.standin.local',
    iotRoleAlias: 'GreengrassCoreTokenExchangeRoleAlias',
    provisioningTemplate: 'GreengrassFleetProvisioningTemplate',
    claimCertificatePath: claimCertPath,
    claimCertificatePrivateKeyPath: claimKeyPath,
    rootCaPath,
    mqttPort: endpoint.port,
    ...opts.settings,
  };
  const templatePath = join(ggRoot, 'installer', 'config.yaml');
  writeFileSync(templatePath, opts.templateText ?? renderInstallerConfig(settings), { mode: 0o644 });

  const hostnameFile = join(dir, 'etc', 'hostname');
  writeFileSync(hostnameFile, `${opts.hostname ?? 'gg-clone-0001'}\n`);
  const templateHostnameFile = join(etc, 'template-hostname');
  if (opts.templateHostname !== undefined) writeFileSync(templateHostnameFile, `${opts.templateHostname}\n`);
  writeFileSync(join(dmi, 'product_serial'), `${opts.dmiSerial ?? 'SN-4711-ABC'}\n`);
  writeFileSync(join(dmi, 'product_uuid'), `${opts.dmiUuid ?? '4C4C4544-0042-3510-8052-B4C04F4D3732'}\n`);

  const renderedConfig = join(state, 'config.yaml');
  const stateFile = join(state, 'state.json');
  const sentinel = join(state, 'provisioned.json');
  const enabledLink = join(systemdDir, 'multi-user.target.wants', 'greengrass.service');
  const configPath = join(etc, 'agent.yaml');

  const base: AgentConfig = merge(DEFAULT_AGENT_CONFIG, {
    thingName: { templateHostnameFile },
    sources: {
      hostnameFile,
      dmiSerialFile: join(dmi, 'product_serial'),
      dmiUuidFile: join(dmi, 'product_uuid'),
      vmwareRpctool: join(dir, 'usr', 'bin', 'vmware-rpctool'),
      blockClassDir: join(dir, 'sys', 'class', 'block'),
      devDir: join(dir, 'dev'),
    },
    installer: {
      jar: installerJar,
      pluginJar,
      configTemplate: templatePath,
      renderedConfig,
      timeoutSeconds: 60,
      attempts: 3,
    },
    preflight: { clockWaitSeconds: 2, networkWaitSeconds: 2, connectTimeoutMs: 1000 },
    verify: { timeoutSeconds: 30, pollMs: 100, retrySeconds: 60 },
    service: { enabledLink },
    state: { stateFile, sentinel },
    backoff: { baseMs: 50, maxMs: 400 },
    // JSON lines: tests read the events' fields (the operator's default, sentences, is tested on its own).
    log: { level: 'debug', format: 'json' },
  });
  let agent = merge(base, opts.agent);
  const writeAgentConfig = (o: DeepPartial<AgentConfig>) => {
    agent = merge(agent, o);
    result.agent = agent;
    writeFileSync(configPath, yaml.dump(agent, { lineWidth: -1 }));
  };

  const result: DeviceRoot = {
    dir,
    ggRoot,
    configPath,
    hostnameFile,
    templateHostnameFile,
    templatePath,
    renderedConfig,
    stateFile,
    sentinel,
    claimCertPath,
    claimKeyPath,
    rootCaPath,
    systemdDir,
    enabledLink,
    tlogPath: join(ggRoot, 'config', 'config.tlog'),
    nucleusLogPath: join(ggRoot, 'logs', 'greengrass.log'),
    ca,
    claim,
    settings,
    agent,
    writeAgentConfig,
    setHostname: (name: string) => writeFileSync(hostnameFile, `${name}\n`),
    env: { GG_STANDIN_SYSTEMD_DIR: systemdDir, JOURNAL_STREAM: '' },
    // retries: a stand-in nucleus that is still shutting down may write one last file
    cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 }),
  };
  writeAgentConfig({});
  return result;
}

/** A fake vmware-rpctool for guestinfo tests: answers `info-get guestinfo.<key>` from a map, else "No value found". */
export function writeFakeRpctool(root: DeviceRoot, values: Record<string, string>): string {
  const path = root.agent.sources.vmwareRpctool;
  mkdirSync(join(path, '..'), { recursive: true });
  const cases = Object.entries(values)
    .map(([k, v]) => `  "info-get guestinfo.${k}") printf '%s\\n' '${v.replace(/'/g, `'\\''`)}' ;;`)
    .join('\n');
  writeFileSync(
    path,
    `#!/bin/sh\n# stand-in for vmware-rpctool (open-vm-tools)\ncase "$1" in\n${cases}\n  *) echo "No value found" >&2; exit 1 ;;\nesac\n`,
    { mode: 0o755 },
  );
  return path;
}

/**
 * Makes the installer stand-in exit at once: the init config already holds the whole identity the nucleus counts as
 * provisioned (agent/src/provisioned.ts), not the name alone, and the device credentials the plugin would write
 * exist (the agent's finish step checks them). For benchmarks of the agent's own cost.
 */
export function preProvision(root: DeviceRoot, thingName: string): void {
  const system = {
    thingName,
    certificateFilePath: join(root.ggRoot, 'thingCert.crt'),
    privateKeyPath: join(root.ggRoot, 'privKey.key'),
    rootCaPath: root.rootCaPath,
  };
  const lines = Object.entries(system).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`);
  writeFileSync(root.templatePath, `${readFileSync(root.templatePath, 'utf8')}system:\n${lines.join('')}`);
  writeFileSync(system.certificateFilePath, 'stand-in device certificate\n');
  writeFileSync(system.privateKeyPath, 'stand-in device key\n', { mode: 0o600 });
}
