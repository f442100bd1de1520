// The agent side of the installer config: load the baked template, fill its template parameters
// for this machine, write the filled copy atomically (0600) stamped with the current time.
import { readFileSync, statSync, utimesSync } from 'node:fs';
import { writeFileAtomic } from '../../common/atomic-write.ts';
import { ConfigError } from '../../common/errors.ts';
import {
  dumpInstallerConfig,
  fillTemplateParameters,
  fleetConfig,
  parseInstallerConfig,
  requiredParameterTokens,
  THING_NAME_TOKEN,
  type FleetProvisioningConfig,
  type InstallerConfigDocument,
} from '../../common/installer-config.ts';
import type { AgentConfig } from './agent-config.ts';
import { tokenValues } from './thing-name-source.ts';

export interface LoadedTemplate {
  template: InstallerConfigDocument;
  filled: InstallerConfigDocument;
  fleet: FleetProvisioningConfig;
  /** The template file's mtime: the image's build time, a floor for a sane clock. */
  mtime: Date;
}

/** The baked template's text and mtime; a missing or unreadable one is a permanent error. */
export function readTemplateFile(path: string): { text: string; mtime: Date } {
  try {
    return { text: readFileSync(path, 'utf8'), mtime: statSync(path).mtime };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `installer config template ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read: ${(err as Error).message}`}`,
      'installer-config-missing',
      { cause: err },
    );
  }
}

/** Parse the template and fill it for `thingName` (in memory). Permanent errors only. */
export function loadTemplate(cfg: AgentConfig, thingName: string): LoadedTemplate {
  const path = cfg.installer.configTemplate;
  const { text, mtime } = readTemplateFile(path);
  const template = parseInstallerConfig(text, `installer config template ${path}`);
  const tokens = requiredParameterTokens(template).filter((t) => t !== THING_NAME_TOKEN);
  const values = tokenValues(cfg, tokens, { [THING_NAME_TOKEN]: thingName });
  const filled = fillTemplateParameters(template, values);
  return { template, filled, fleet: fleetConfig(template), mtime };
}

/** Write the filled config atomically, 0600, with mtime = now (call only once the clock is sane). */
export function writeRenderedConfig(cfg: AgentConfig, filled: InstallerConfigDocument, now = new Date()): string {
  const path = cfg.installer.renderedConfig;
  writeFileAtomic(path, dumpInstallerConfig(filled), 0o600);
  utimesSync(path, now, now);
  return path;
}
