// `greengrass-firstboot seal`: undo first-boot state so the machine can be captured as a template
// again (the image pipeline's seal step calls it). Records the template hostname (refused as a
// ThingName on every clone), removes the sentinel, state and rendered config. A Greengrass identity
// under the root is per-device: seal refuses while one exists unless --remove-identity.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../../../common/atomic-write.ts';
import { ConfigError } from '../../../common/errors.ts';
import {
  deviceCredentialPaths,
  fleetConfig,
  parseInstallerConfig,
  type FleetProvisioningConfig,
} from '../../../common/installer-config.ts';
import { csrPaths } from '../../../common/installer-csr.ts';
import { showName } from '../../../common/thing-name.ts';
import { readTemplateFile } from '../installer-config.ts';
import { removeFiles } from '../state.ts';
import { readHostname } from '../thing-name-source.ts';
import { recordedThingName, tlogPath } from '../verify.ts';
import { join } from 'node:path';
import type { CommandContext } from './context.ts';

/**
 * What the nucleus makes under its root (NucleusPaths: config, work, packages, alts, deployments, cli_ipc_info, bin,
 * plugins, logs, telemetry): this machine's deployed components and their state, none of it for a clone. The
 * installer, the claim and the root CA (what the image bakes) are not in this list.
 */
const NUCLEUS_ENTRIES = [
  'config',
  'work',
  'packages',
  'alts',
  'deployments',
  'cli_ipc_info',
  'bin',
  'plugins',
  'logs',
  'telemetry',
];

/** The nucleus's loader PID (alts/loader.pid) when that process is alive: it would rewrite what seal removes. */
function runningNucleus(rootPath: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(join(rootPath, 'alts', 'loader.pid'), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

function templateFleet(ctx: CommandContext): FleetProvisioningConfig | null {
  const path = ctx.cfg.installer.configTemplate;
  if (!existsSync(path)) return null;
  return fleetConfig(parseInstallerConfig(readTemplateFile(path).text, path));
}

export function sealCommand(ctx: CommandContext, opts: { templateHostname?: string; removeIdentity: boolean }): number {
  const { cfg, log } = ctx;
  const name = (opts.templateHostname ?? readHostname(cfg)).trim();
  if (name === '' || /[\s\0]/.test(name)) {
    throw new ConfigError(
      `template hostname ${showName(name)} is empty or has whitespace`,
      'template-hostname-invalid',
    );
  }
  const fleet = templateFleet(ctx);
  // Every check before anything is removed, and the template hostname recorded first: a seal that fails leaves the
  // machine as it was.
  if (fleet) {
    const identity = recordedThingName(fleet.rootPath);
    if (identity && !opts.removeIdentity) {
      throw new ConfigError(
        `this machine holds the Greengrass identity ${showName(identity)} (${tlogPath(fleet.rootPath)}); every clone of it would share that identity. Re-run with --remove-identity to delete it, or seal a machine that never provisioned`,
        'identity-present',
      );
    }
    const pid = opts.removeIdentity ? runningNucleus(fleet.rootPath) : null;
    if (pid !== null) {
      throw new ConfigError(
        `the Greengrass nucleus is running (pid ${pid}, ${join(fleet.rootPath, 'alts', 'loader.pid')}): it would write its state back while seal removes it. Stop it first (systemctl stop greengrass.service)`,
        'nucleus-running',
      );
    }
    const claimMissing = [fleet.claimCertificatePath, fleet.claimCertificatePrivateKeyPath].filter(
      (p) => !existsSync(p),
    );
    if (claimMissing.length > 0) {
      throw new ConfigError(
        `the claim certificate or key is missing (${claimMissing.join(', ')}): clones of this machine could not provision. It provisioned and removed them; put the claim back (greengrass-image build stages it) before sealing`,
        'claim-missing',
      );
    }
  } else {
    log.warn(
      { template: cfg.installer.configTemplate },
      `No installer config template at ${cfg.installer.configTemplate}: cannot check for a Greengrass identity`,
    );
  }
  try {
    writeFileAtomic(cfg.thingName.templateHostnameFile, `${name}\n`, 0o644);
  } catch (err) {
    throw new ConfigError(
      `cannot record the template hostname in ${cfg.thingName.templateHostnameFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'template-hostname-unwritable',
      { cause: err },
    );
  }
  const removed: string[] = [];
  if (fleet && opts.removeIdentity) {
    // The identity, and what would make a clone skip the installer or misread this machine's past: the enabled
    // service (run would only verify), the nucleus's log (its old failure lines) and everything else the nucleus
    // made (this machine's deployed components, their artifacts and work dirs).
    const dev = deviceCredentialPaths(fleet);
    for (const dir of NUCLEUS_ENTRIES.map((e) => join(fleet.rootPath, e))) {
      if (!existsSync(dir)) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
    removed.push(...removeFiles([dev.certificatePath, dev.privateKeyPath, cfg.service.enabledLink]));
  }
  // A device key and CSR (CSR mode) are this machine's even before it provisioned; a clone finding a matching pair
  // would keep it, and every clone would share one key.
  const csr = fleet ? csrPaths(fleet) : null;
  if (csr) removed.push(...removeFiles([csr.csrPath, csr.csrPrivateKeyPath]));
  removed.push(...removeFiles([cfg.state.sentinel, cfg.state.stateFile, cfg.installer.renderedConfig]));
  log.info(
    { templateHostname: name, removed },
    `Sealed: template hostname ${name} recorded, first-boot state removed (${removed.join(', ') || 'nothing to remove'})`,
  );
  ctx.out(
    `sealed: template hostname ${name} recorded in ${cfg.thingName.templateHostnameFile}${removed.length ? `; removed ${removed.join(', ')}` : ''}\n`,
  );
  return 0;
}
