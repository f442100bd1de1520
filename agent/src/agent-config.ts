// The agent's own configuration (/etc/greengrass-firstboot/agent.yaml): schema, defaults, and loading, with each
// key's type checked against its default (the rules across values are in agent-config-rules.ts). Every path the
// agent touches comes from here (or from the installer config template this file points at), so tests can run the
// agent unprivileged in a temp dir.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { ConfigError } from '../../common/errors.ts';
import type { FqdnMode } from '../../common/thing-name.ts';
import { agentConfigProblems } from './agent-config-rules.ts';

export const DEFAULT_CONFIG_PATH = '/etc/greengrass-firstboot/agent.yaml';

export type ThingNameSource = 'hostname' | 'guestinfo' | 'serial' | 'uuid' | 'template';

export interface AgentConfig {
  thingName: {
    source: ThingNameSource;
    /** guestinfo key for source=guestinfo, e.g. "thing-name" → `info-get guestinfo.thing-name`. */
    guestinfoKey: string;
    /** `{{token}}` template for source=template, e.g. "{{hostname}}-{{serial}}". */
    template: string;
    fqdn: FqdnMode;
    deny: string[];
    /** Written by `seal`: the golden image's hostname, refused as a ThingName. */
    templateHostnameFile: string;
    /** Read the OVF environment first: its `ovfProperty`, when set, names the machine over `source`. */
    ovfEnv: boolean;
    /** The vApp property key, `thing-name` as the OVA declares it. */
    ovfProperty: string;
  };
  sources: {
    hostnameFile: string;
    dmiSerialFile: string;
    dmiUuidFile: string;
    /** Command (path or name on PATH) of vmware-rpctool. */
    vmwareRpctool: string;
    /** Where the kernel lists block devices; its `sr<N>` entries are the CD-ROM drives searched for ovf-env.xml. */
    blockClassDir: string;
    /** Where their device nodes are. */
    devDir: string;
  };
  installer: {
    java: string;
    /** openssl, for the device key and CSR in CSR mode (installer config csrPath). */
    openssl: string;
    minJavaVersion: number;
    jar: string;
    pluginJar: string;
    /** The baked installer config with templateParameters.ThingName "{{thingName}}"; never edited. */
    configTemplate: string;
    /** Where the filled copy is written (0600) and passed with --init-config. */
    renderedConfig: string;
    componentDefaultUser: string;
    timeoutSeconds: number;
    attempts: number;
  };
  preflight: {
    /** Bound on waiting for the clock to pass the claim certificate's notBefore / the image build time. */
    clockWaitSeconds: number;
    /** Bound on waiting for the IoT data endpoint (or proxy) to accept a TCP connection. */
    networkWaitSeconds: number;
    connectTimeoutMs: number;
  };
  verify: {
    /** How long to wait for the nucleus to record system.thingName after each (re)start. */
    timeoutSeconds: number;
    /** Fallback poll: the longest time between two checks. Changes to the nucleus's files are seen at once (inotify). */
    pollMs: number;
    /**
     * Time budget (seconds) for retrying a failed or unconfirmed provisioning: the service is restarted after a
     * jittered backoff until the next try would start after this budget, then the run ends with exit 75 and the
     * unit's restart rule applies. A refusal (access denied: a taken name or a refusing hook) is never retried.
     * A fleet booting at once is throttled; the budget lets every clone queue instead of giving up.
     */
    retrySeconds: number;
    /**
     * Accept a system.thingName the nucleus records that differs from the resolved ThingName (a provisioning
     * template that rewrites the name, e.g. Fn::Join with a prefix). Off: a different name is a permanent error.
     */
    acceptOtherThingName: boolean;
  };
  service: {
    /** Command that restarts greengrass.service (the plugin runs again when no thingName is recorded). */
    restartCommand: string[];
    /** The `multi-user.target.wants` link `systemctl enable` creates; its presence = enabled. */
    enabledLink: string;
    /** Optional instead of the link: a command that exits 0 when enabled (e.g. systemctl is-enabled --quiet greengrass.service). */
    isEnabledCommand: string[] | null;
  };
  state: {
    stateFile: string;
    sentinel: string;
  };
  claim: {
    removeAfterProvisioning: boolean;
  };
  backoff: {
    baseMs: number;
    maxMs: number;
  };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
    /** auto: journald's native protocol under systemd, sentences otherwise; json: pino JSON lines. */
    format: 'auto' | 'text' | 'json';
    /** A wait (clock, endpoint, installer, provisioning confirmation) logs that it still waits this often. */
    progressSeconds: number;
  };
}

export const DEFAULT_AGENT_CONFIG: AgentConfig = {
  thingName: {
    source: 'hostname',
    guestinfoKey: 'thing-name',
    template: '{{hostname}}',
    fqdn: 'refuse',
    deny: [],
    templateHostnameFile: '/etc/greengrass-firstboot/template-hostname',
    ovfEnv: true,
    ovfProperty: 'thing-name',
  },
  sources: {
    hostnameFile: '/proc/sys/kernel/hostname',
    dmiSerialFile: '/sys/class/dmi/id/product_serial',
    dmiUuidFile: '/sys/class/dmi/id/product_uuid',
    vmwareRpctool: 'vmware-rpctool',
    blockClassDir: '/sys/class/block',
    devDir: '/dev',
  },
  installer: {
    java: 'java',
    openssl: 'openssl',
    minJavaVersion: 8,
    jar: '/greengrass/v2/installer/lib/Greengrass.jar',
    pluginJar: '/greengrass/v2/installer/aws.greengrass.FleetProvisioningByClaim.jar',
    configTemplate: '/greengrass/v2/installer/config.yaml',
    renderedConfig: '/var/lib/greengrass-firstboot/config.yaml',
    componentDefaultUser: 'ggc_user:ggc_group',
    timeoutSeconds: 600,
    attempts: 3,
  },
  preflight: { clockWaitSeconds: 300, networkWaitSeconds: 300, connectTimeoutMs: 5000 },
  verify: { timeoutSeconds: 300, pollMs: 10000, retrySeconds: 1800, acceptOtherThingName: false },
  service: {
    restartCommand: ['systemctl', 'restart', 'greengrass.service'],
    enabledLink: '/etc/systemd/system/multi-user.target.wants/greengrass.service',
    isEnabledCommand: null,
  },
  state: {
    stateFile: '/var/lib/greengrass-firstboot/state.json',
    sentinel: '/var/lib/greengrass-firstboot/provisioned.json',
  },
  claim: { removeAfterProvisioning: true },
  backoff: { baseMs: 2000, maxMs: 30000 },
  log: { level: 'info', format: 'auto', progressSeconds: 30 },
};

type Section = Record<string, unknown>;

/** Keys of earlier versions, named with what took their place (an old agent.yaml must not fail obscurely). */
const REPLACED: Record<string, string> = {
  'verify.restarts': 'failed provisioning is retried within the time budget verify.retrySeconds; remove it',
  'verify.throttledRetrySeconds': 'use verify.retrySeconds (the time budget for retrying any failed provisioning)',
};

function isMapping(v: unknown): v is Section {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

const nonEmptyStrings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string' && x !== '');

/** What is wrong with `value` for a key whose default is `dv` (the default gives the key its type), if anything. */
function typeProblem(where: string, key: string, dv: unknown, value: unknown): string | undefined {
  const got = JSON.stringify(value);
  if (key === 'isEnabledCommand')
    return value === null || (nonEmptyStrings(value) && value.length > 0)
      ? undefined
      : `${where} must be null or a non-empty list of strings`;
  if (Array.isArray(dv)) return nonEmptyStrings(value) ? undefined : `${where} must be a list of non-empty strings`;
  if (typeof dv === 'number')
    return typeof value === 'number' && Number.isFinite(value) && value >= 0
      ? undefined
      : `${where} must be a non-negative number, got ${got}`;
  if (typeof dv === 'boolean')
    return typeof value === 'boolean' ? undefined : `${where} must be true or false, got ${got}`;
  if (typeof dv === 'string')
    return typeof value === 'string' && value !== '' ? undefined : `${where} must be a non-empty string, got ${got}`;
  return undefined;
}

/**
 * Validate a parsed agent.yaml document against the schema, apply defaults, and return the full
 * config. Unknown keys are errors (a typo must not silently fall back to a default path).
 * Throws ConfigError listing every problem.
 */
export function resolveAgentConfig(doc: unknown, source = 'agent config'): AgentConfig {
  const problems: string[] = [];
  if (doc === null || doc === undefined) doc = {};
  if (!isMapping(doc)) throw new ConfigError(`${source} is not a YAML mapping`, 'agent-config-invalid');
  const out = structuredClone(DEFAULT_AGENT_CONFIG) as unknown as Record<string, Section>;
  const defaults = DEFAULT_AGENT_CONFIG as unknown as Record<string, Section>;
  for (const [sectionName, sectionValue] of Object.entries(doc)) {
    const def = Object.hasOwn(defaults, sectionName) ? defaults[sectionName] : undefined; // not "constructor" & co.
    if (!def) {
      problems.push(`unknown section "${sectionName}" (known: ${Object.keys(defaults).join(', ')})`);
      continue;
    }
    if (sectionValue === null) continue;
    if (!isMapping(sectionValue)) {
      problems.push(`${sectionName} must be a mapping`);
      continue;
    }
    for (const [key, value] of Object.entries(sectionValue)) {
      const where = `${sectionName}.${key}`;
      if (Object.hasOwn(REPLACED, where)) {
        problems.push(`${where} is no longer read: ${REPLACED[where]}`);
        continue;
      }
      if (!Object.hasOwn(def, key)) {
        problems.push(`unknown key "${where}"`);
        continue;
      }
      const wrong = typeProblem(where, key, def[key], value);
      if (wrong) problems.push(wrong);
      else (out[sectionName] as Section)[key] = value;
    }
  }
  const cfg = out as unknown as AgentConfig;
  problems.push(...agentConfigProblems(cfg));
  if (problems.length > 0)
    throw new ConfigError(`${source} is invalid:\n  - ${problems.join('\n  - ')}`, 'agent-config-invalid');
  return cfg;
}

/** Read and validate agent.yaml. A missing or unreadable file is a permanent configuration error. */
export function loadAgentConfig(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `cannot read agent config ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      'agent-config-missing',
      { cause: err },
    );
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    throw new ConfigError(
      `agent config ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`,
      'agent-config-yaml',
      { cause: err },
    );
  }
  return resolveAgentConfig(doc, `agent config ${path}`);
}
