// The agent config's rules across values: what each key's type (checked against the defaults in agent-config.ts)
// cannot say. Allowed words, ranges, absolute paths, and files that must not be the same file.
import { isAbsolute } from 'node:path';
import type { FqdnMode } from '../../common/thing-name.ts';
import type { AgentConfig, ThingNameSource } from './agent-config.ts';

const SOURCES: readonly ThingNameSource[] = ['hostname', 'guestinfo', 'serial', 'uuid', 'template'];
const FQDN_MODES: readonly FqdnMode[] = ['refuse', 'short', 'dashes'];
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const LOG_FORMATS = ['auto', 'text', 'json'] as const;

/** Paths the agent opens: relative ones would depend on the working directory systemd happens to give it. */
const ABSOLUTE_PATHS = [
  'thingName.templateHostnameFile',
  'sources.hostnameFile',
  'sources.dmiSerialFile',
  'sources.dmiUuidFile',
  'sources.blockClassDir',
  'sources.devDir',
  'installer.jar',
  'installer.pluginJar',
  'installer.configTemplate',
  'installer.renderedConfig',
  'service.enabledLink',
  'state.stateFile',
  'state.sentinel',
] as const;

/**
 * Files the agent writes or removes must not be each other or the template: a shared path makes one stand for the
 * other, e.g. a state.json read as the sentinel ("already provisioned" on a machine that is not).
 */
const DISTINCT_FILES = [
  'state.stateFile',
  'state.sentinel',
  'thingName.templateHostnameFile',
  'installer.renderedConfig',
  'installer.configTemplate',
] as const;

/** The value of a `section.key` name. */
function valueAt(cfg: AgentConfig, key: string): unknown {
  const [section, name] = key.split('.');
  return (cfg as unknown as Record<string, Record<string, unknown>>)[section][name];
}

/** Every rule the config breaks, as sentences naming the key; empty when it keeps them all. */
export function agentConfigProblems(cfg: AgentConfig): string[] {
  const problems: string[] = [];
  if (!SOURCES.includes(cfg.thingName.source))
    problems.push(`thingName.source must be one of ${SOURCES.join(', ')}, got ${JSON.stringify(cfg.thingName.source)}`);
  if (!FQDN_MODES.includes(cfg.thingName.fqdn))
    problems.push(`thingName.fqdn must be one of ${FQDN_MODES.join(', ')}, got ${JSON.stringify(cfg.thingName.fqdn)}`);
  if (!LEVELS.includes(cfg.log.level)) problems.push(`log.level must be one of ${LEVELS.join(', ')}`);
  if (!LOG_FORMATS.includes(cfg.log.format)) problems.push(`log.format must be one of ${LOG_FORMATS.join(', ')}`);
  if (!(cfg.log.progressSeconds > 0)) problems.push('log.progressSeconds must be > 0');
  if (cfg.installer.attempts < 1 || !Number.isInteger(cfg.installer.attempts))
    problems.push('installer.attempts must be an integer >= 1');
  if (cfg.installer.timeoutSeconds <= 0) problems.push('installer.timeoutSeconds must be > 0');
  if (cfg.verify.timeoutSeconds <= 0) problems.push('verify.timeoutSeconds must be > 0');
  if (cfg.verify.pollMs <= 0) problems.push('verify.pollMs must be > 0');
  if (cfg.preflight.connectTimeoutMs <= 0) problems.push('preflight.connectTimeoutMs must be > 0');
  if (cfg.backoff.maxMs < cfg.backoff.baseMs) problems.push('backoff.maxMs must be >= backoff.baseMs');
  if (cfg.service.restartCommand.length === 0) problems.push('service.restartCommand must not be empty');
  if (!/^[^:\s]+(:[^:\s]+)?$/.test(cfg.installer.componentDefaultUser))
    problems.push('installer.componentDefaultUser must be user or user:group');
  if (cfg.thingName.source === 'guestinfo' && !/^[a-zA-Z0-9_.-]+$/.test(cfg.thingName.guestinfoKey)) {
    problems.push('thingName.guestinfoKey may only contain letters, digits, ".", "_" and "-"');
  }
  if (!/^[a-zA-Z0-9_.-]+$/.test(cfg.thingName.ovfProperty))
    problems.push('thingName.ovfProperty may only contain letters, digits, ".", "_" and "-"');
  for (const k of ABSOLUTE_PATHS) {
    const p = valueAt(cfg, k);
    if (typeof p === 'string' && !isAbsolute(p))
      problems.push(`${k} must be an absolute path, got ${JSON.stringify(p)}`);
  }
  if (!cfg.installer.pluginJar.endsWith('.jar'))
    problems.push('installer.pluginJar must end in .jar (the installer refuses other names)');
  if (cfg.installer.renderedConfig === cfg.installer.configTemplate)
    problems.push(
      'installer.renderedConfig must differ from installer.configTemplate (the template is never edited in place)',
    );
  for (const [i, k] of DISTINCT_FILES.entries()) {
    for (const k2 of DISTINCT_FILES.slice(i + 1)) {
      const p = valueAt(cfg, k);
      // renderedConfig vs configTemplate: reported above, with its reason.
      if (p === valueAt(cfg, k2) && !(k === 'installer.renderedConfig' && k2 === 'installer.configTemplate'))
        problems.push(`${k} and ${k2} must be different files, both are ${JSON.stringify(p)}`);
    }
  }
  return problems;
}
