// Where this machine's ThingName comes from: the OVF environment's `thing-name` property when the hypervisor gave
// one (agent/src/ovf-env-source.ts), else the configured source: the hostname (default), VMware guestinfo, the DMI
// serial or UUID, or a `{{token}}` template over those. Whichever names it, the result is validated with the shared
// AWS IoT rules and refusal policy (common/thing-name.ts). Every location is a config path, so tests point them at
// files and scripts.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../common/errors.ts';
import {
  applyFqdnMode,
  renderTokens,
  templateTokens,
  validateThingName,
  showName,
  ThingNameError,
  type FqdnMode,
} from '../../common/thing-name.ts';
import type { AgentConfig } from './agent-config.ts';
import { ovfCandidate } from './ovf-env-source.ts';

/** Values DMI firmware reports when it has no real serial/UUID: never unique. */
const DMI_PLACEHOLDERS = new Set([
  '',
  'none',
  'not specified',
  'to be filled by o.e.m.',
  'default string',
  'system serial number',
  '0',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
]);

/** A one-line value file without its final newline (untrimmed: the hostname's whitespace is checked). */
function readRawValueFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `cannot read the ${what} from ${path}: ${code ?? (err as Error).message}`,
      `${what.replace(/\s+/g, '-')}-unreadable`,
      { cause: err },
    );
  }
}

function readValueFile(path: string, what: string): string {
  return readRawValueFile(path, what).trim();
}

/**
 * The hostname. One with whitespace around it is refused rather than trimmed in silence: the name the operator
 * set and the ThingName registered would differ, and what set it (a customization spec, DHCP) is worth fixing.
 */
export function readHostname(cfg: AgentConfig): string {
  const raw = readRawValueFile(cfg.sources.hostnameFile, 'hostname');
  if (raw !== raw.trim() && raw.trim() !== '') {
    throw new ConfigError(
      `the hostname ${showName(raw)} (${cfg.sources.hostnameFile}) has whitespace around it; set it without (hostnamectl hostname ${raw.trim()}), then start the unit again`,
      'hostname-whitespace',
    );
  }
  return raw;
}

function readDmi(path: string, what: 'DMI serial' | 'DMI uuid'): string {
  const v = readValueFile(path, what);
  if (DMI_PLACEHOLDERS.has(v.toLowerCase())) {
    throw new ConfigError(
      `the ${what} (${path}) is ${showName(v)}, a firmware placeholder that cannot identify one machine`,
      'dmi-placeholder',
    );
  }
  return what === 'DMI uuid' ? v.toLowerCase() : v;
}

/** `vmware-rpctool "info-get guestinfo.<key>"`; 'No value found' (or a non-zero exit) means unset. */
export function readGuestinfo(cfg: AgentConfig, key: string): string {
  const r = spawnSync(cfg.sources.vmwareRpctool, [`info-get guestinfo.${key}`], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT'
        ? `${cfg.sources.vmwareRpctool} not found: guestinfo needs open-vm-tools`
        : `${cfg.sources.vmwareRpctool} failed: ${r.error.message}`,
      'guestinfo-unavailable',
      { cause: r.error },
    );
  }
  const out = (r.stdout ?? '').trim();
  const err = (r.stderr ?? '').trim();
  if (/No value found/i.test(out) || /No value found/i.test(err) || r.status !== 0 || out === '') {
    throw new ConfigError(
      `guestinfo.${key} is not set on this VM (vmware-rpctool: ${showName(err || out || `exit ${r.status}`)})`,
      'guestinfo-unset',
    );
  }
  return out;
}

/** The value of one `{{token}}`: hostname, serial, uuid, guestinfo.<key>. FQDN mode applies to hostname and guestinfo values. */
export function tokenValue(cfg: AgentConfig, token: string): string {
  if (token === 'hostname') return applyFqdnMode(readHostname(cfg), cfg.thingName.fqdn);
  if (token === 'serial') return readDmi(cfg.sources.dmiSerialFile, 'DMI serial');
  if (token === 'uuid') return readDmi(cfg.sources.dmiUuidFile, 'DMI uuid');
  if (token.startsWith('guestinfo.') && token.length > 'guestinfo.'.length)
    return applyFqdnMode(readGuestinfo(cfg, token.slice('guestinfo.'.length)), cfg.thingName.fqdn);
  throw new ConfigError(
    `unknown template token {{${token}}} (known: hostname, serial, uuid, guestinfo.<key>, and thingName in the installer config)`,
    'template-token-unknown',
  );
}

/** Values for a set of tokens, read lazily (the DMI serial is root-only; only read it when asked for). */
export function tokenValues(
  cfg: AgentConfig,
  tokens: Iterable<string>,
  known: Record<string, string> = {},
): Record<string, string> {
  const values: Record<string, string> = { ...known };
  for (const t of tokens) if (!(t in values)) values[t] = tokenValue(cfg, t);
  return values;
}

export function readTemplateHostname(cfg: AgentConfig): string | null {
  try {
    const v = readFileSync(cfg.thingName.templateHostnameFile, 'utf8').trim();
    return v === '' ? null : v;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(
      `cannot read ${cfg.thingName.templateHostnameFile}: ${(err as Error).message}`,
      'template-hostname-unreadable',
      { cause: err },
    );
  }
}

/** The candidate before validation, from the configured source. */
export function candidateThingName(cfg: AgentConfig): string {
  const t = cfg.thingName;
  switch (t.source) {
    case 'hostname':
      return tokenValue(cfg, 'hostname');
    case 'guestinfo':
      return tokenValue(cfg, `guestinfo.${t.guestinfoKey}`);
    case 'serial':
      return tokenValue(cfg, 'serial');
    case 'uuid':
      return tokenValue(cfg, 'uuid');
    case 'template': {
      const values = tokenValues(cfg, templateTokens(t.template));
      return renderTokens(t.template, values);
    }
  }
}

export interface ResolvedThingName {
  thingName: string;
  /** `ovf-env`, or the configured thingName.source. */
  source: string;
  /** Which source named the machine, in words, for the log (and why the OVF environment did not). */
  namedBy: string;
  /** An OVF value thingName.fqdn rewrote: reported, as a rewritten hostname is. */
  ovfValue?: string;
  fqdn?: FqdnMode;
}

/** This machine's validated ThingName and its source, or a ThingNameError / ConfigError (permanent). */
export function resolveThingNameFrom(cfg: AgentConfig): ResolvedThingName {
  const ovf = cfg.thingName.ovfEnv ? ovfCandidate(cfg) : { value: null, why: 'thingName.ovfEnv is false' };
  const candidate = ovf.value ?? candidateThingName(cfg);
  const templateHostname = readTemplateHostname(cfg);
  let thingName: string;
  try {
    thingName = validateThingName(candidate, {
      deny: cfg.thingName.deny,
      templateHostname: templateHostname ? applyFqdnMode(templateHostname, cfg.thingName.fqdn) : null,
    });
  } catch (err) {
    // Same refusal, same reason; the message says where the name came from, or the operator looks at the hostname.
    if (err instanceof ThingNameError && ovf.value !== null)
      throw new ThingNameError(
        err.candidate,
        err.problem,
        `${err.message} (from the OVF environment property ${cfg.thingName.ovfProperty}, ${ovf.where})`,
      );
    throw err;
  }
  if (ovf.value === null)
    return { thingName, source: cfg.thingName.source, namedBy: `thingName.source ${cfg.thingName.source}; ${ovf.why}` };
  return {
    thingName,
    source: 'ovf-env',
    namedBy: `OVF environment property ${cfg.thingName.ovfProperty} (${ovf.where})`,
    ...(ovf.raw !== ovf.value ? { ovfValue: ovf.raw, fqdn: cfg.thingName.fqdn } : {}),
  };
}

/** This machine's validated ThingName, or a ThingNameError / ConfigError (permanent). */
export function resolveThingName(cfg: AgentConfig): string {
  return resolveThingNameFrom(cfg).thingName;
}

/** The hostname, when thingName.fqdn changed it on its way into the ThingName: reported, so the rewrite is never silent. */
export function fqdnRewrite(
  cfg: AgentConfig,
  source: string = cfg.thingName.source,
): { hostname: string; fqdn: FqdnMode } | null {
  const t = cfg.thingName;
  if (t.fqdn === 'refuse' || source !== t.source) return null;
  if (t.source !== 'hostname' && !(t.source === 'template' && templateTokens(t.template).includes('hostname')))
    return null;
  const hostname = readHostname(cfg);
  return hostname.includes('.') ? { hostname, fqdn: t.fqdn } : null;
}
