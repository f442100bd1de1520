// `greengrass-firstboot seal`: undo first-boot state so the machine can be captured as a template
// again (the image pipeline's seal step calls it). Records the template hostname (refused as a
// ThingName on every clone), removes the sentinel, state and rendered config. A Greengrass identity
// under the root is per-device: seal refuses while one exists unless --remove-identity.
import { readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../../../common/atomic-write.ts';
import { ConfigError, CliError } from '../../../common/errors.ts';
import { deviceCredentialPaths, fleetConfig, parseInstallerConfig, type FleetProvisioningConfig } from '../../../common/installer-config.ts';
import { showName } from '../../../common/thing-name.ts';
import { removeFiles } from '../state.ts';
import { readHostname } from '../thing-name-source.ts';
import { recordedThingName, tlogPath } from '../verify.ts';
import { join } from 'node:path';
import type { CommandContext } from './context.ts';

function templateFleet(ctx: CommandContext): FleetProvisioningConfig | null {
  try {
    return fleetConfig(parseInstallerConfig(readFileSync(ctx.cfg.installer.configTemplate, 'utf8'), ctx.cfg.installer.configTemplate));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (err instanceof CliError) throw err;
    throw err;
  }
}

export function sealCommand(ctx: CommandContext, opts: { templateHostname?: string; removeIdentity: boolean }): number {
  const { cfg, log } = ctx;
  const name = (opts.templateHostname ?? readHostname(cfg)).trim();
  if (name === '' || /[\s\0]/.test(name)) {
    throw new ConfigError(`template hostname ${showName(name)} is empty or has whitespace`, 'template-hostname-invalid');
  }
  const fleet = templateFleet(ctx);
  const removed: string[] = [];
  if (fleet) {
    const identity = recordedThingName(fleet.rootPath);
    const dev = deviceCredentialPaths(fleet);
    if (identity && !opts.removeIdentity) {
      throw new ConfigError(
        `this machine holds the Greengrass identity ${showName(identity)} (${tlogPath(fleet.rootPath)}); every clone of it would share that identity. Re-run with --remove-identity to delete it, or seal a machine that never provisioned`,
        'identity-present',
      );
    }
    if (opts.removeIdentity) {
      const cfgDir = join(fleet.rootPath, 'config');
      rmSync(cfgDir, { recursive: true, force: true });
      removed.push(cfgDir, ...removeFiles([dev.certificatePath, dev.privateKeyPath]));
    }
  } else {
    log.warn({ template: cfg.installer.configTemplate }, 'no installer config template: cannot check for a Greengrass identity');
  }
  removed.push(...removeFiles([cfg.state.sentinel, cfg.state.stateFile, cfg.installer.renderedConfig]));
  writeFileAtomic(cfg.thingName.templateHostnameFile, `${name}\n`, 0o644);
  log.info({ templateHostname: name, removed }, 'sealed: first-boot state removed, template hostname recorded');
  ctx.out(`sealed: template hostname ${name} recorded in ${cfg.thingName.templateHostnameFile}${removed.length ? `; removed ${removed.join(', ')}` : ''}\n`);
  return 0;
}
