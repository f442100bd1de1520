// `greengrass-firstboot run`: turn this clone into a provisioned Greengrass core, exactly once.
//   sentinel present → done. Resolve + validate the ThingName and the template (permanent errors:
//   nothing contacted, no rendered config, installer never started). If the nucleus already
//   counts as provisioned (its own rule: identity, endpoints, region), only finish. Otherwise preflight → device
//   key and CSR in CSR mode (kept if an earlier run made a matching pair) → render (clock sane, mtime now) →
//   install (retries, backoff) → verify (run-verify.ts: restart the service on a plugin failure, within a time
//   budget; a refusal is permanent) → finish:
//   device cert/key present, service enabled, remove claim cert+key, sentinel.
import { TransientError } from '../../../common/errors.ts';
import { deviceCredentialPaths, type FleetProvisioningConfig } from '../../../common/installer-config.ts';
import { existsSync } from 'node:fs';
import { backoffDelay } from '../backoff.ts';
import { ensureDeviceKey } from '../device-key.ts';
import { loadTemplate, writeRenderedConfig } from '../installer-config.ts';
import { runInstaller } from '../installer.ts';
import { checkHost } from '../host.ts';
import { checkClaim, checkJars, checkJava, waitForClock, waitForEndpoint } from '../preflight.ts';
import { serviceEnabled } from '../service.ts';
import { acceptRecordedName } from '../identity-name.ts';
import {
  readSentinel,
  readState,
  recordError,
  removeFiles,
  writeSentinel,
  writeState,
  type AgentState,
} from '../state.ts';
import { fqdnRewrite, resolveThingNameFrom } from '../thing-name-source.ts';
import { bootTimeMs, fileSize, nucleusIdentity, nucleusLogPath, readTlog, tlogPath } from '../verify.ts';
import { AGENT_VERSION } from '../version.ts';
import { logContext } from '../log.ts';
import { notifyStatus } from '../progress.ts';
import { enter, pause, sourceText } from '../run-report.ts';
import type { CommandContext } from './context.ts';
import { verify } from './run-verify.ts';

export async function runCommand(ctx: CommandContext): Promise<number> {
  const { cfg, log } = ctx;
  const sentinel = readSentinel(cfg.state.sentinel);
  if (sentinel) {
    logContext.thingName = sentinel.thingName;
    log.info(
      { sentinel: cfg.state.sentinel },
      `Already provisioned as ${sentinel.thingName} (${cfg.state.sentinel} exists); nothing to do`,
    );
    notifyStatus(`already provisioned as ${sentinel.thingName}`);
    ctx.out(`already provisioned as ${sentinel.thingName}\n`);
    return 0;
  }
  const state = readState(cfg.state.stateFile);
  state.runs += 1;
  state.firstRunAt ??= new Date().toISOString();
  try {
    return await provision(ctx, state);
  } catch (err) {
    const notRecorded = recordError(cfg.state.stateFile, state, err);
    if (notRecorded)
      log.warn(
        { reason: 'state-unwritable' },
        `This failure is not recorded in state.json, so status will not show it: ${notRecorded.message}`,
      );
    throw err;
  }
}

async function provision(ctx: CommandContext, state: AgentState): Promise<number> {
  const { cfg, log, signal } = ctx;
  // Permanent checks first, before anything is written or contacted.
  enter(state, 'preflight');
  const named = resolveThingNameFrom(cfg);
  const { thingName } = named;
  logContext.thingName = thingName;
  const tpl = loadTemplate(cfg, thingName);
  const root = tpl.fleet.rootPath;
  state.thingName = thingName;
  const rewrite = fqdnRewrite(cfg, named.source);
  const rewritten = rewrite
    ? ` (the hostname ${rewrite.hostname} is a domain name; thingName.fqdn ${rewrite.fqdn} ${rewrite.fqdn === 'short' ? 'keeps its first label' : 'turns its dots into dashes'})`
    : '';
  const from = named.source === cfg.thingName.source ? sourceText(cfg) : named.namedBy;
  log.info({ ...named, ...rewrite }, `ThingName ${thingName} taken from the ${from}${rewritten}`);

  const held = nucleusIdentity(root);
  const existing = held.problems.length === 0 ? held.thingName : null;
  if (held.thingName !== null && existing === null) {
    log.warn(
      { recorded: held.thingName, problems: held.problems },
      `The nucleus records ThingName ${held.thingName} but is not configured to talk to the cloud (${held.problems.join('; ')}); it would run the provisioning plugin again at its next start, so this run provisions`,
    );
  }
  if (existing) {
    acceptRecordedName(cfg, existing, thingName, 'before');
    if (existing !== thingName) {
      log.warn(
        { recorded: existing, resolved: thingName },
        `The nucleus already holds an identity as ${existing}, not ${thingName}; keeping it (verify.acceptOtherThingName), no second identity is provisioned`,
      );
    } else {
      log.info(`The nucleus already holds the identity ${thingName}; finishing the remaining steps`);
    }
    return finish(ctx, state, tpl.fleet, existing);
  }

  checkJava(cfg);
  checkJars(cfg);
  checkHost(root, log);
  const claim = checkClaim(tpl.fleet);
  const pctx = { cfg, log, signal, wait: true };
  await waitForClock(pctx, claim, tpl.mtime);
  await waitForEndpoint(pctx, tpl.fleet);
  log.info('Preflight passed: Java, the installer, memory and disk, the claim, the clock and the endpoint are ready');
  await ensureDeviceKey(cfg, tpl.fleet, thingName, log, signal);

  // The clock is sane now: render, stamped with the current time so the installer's
  // timestamped merge cannot lose our ThingName to older values in the image.
  enter(state, 'render');
  writeState(cfg.state.stateFile, state);
  writeRenderedConfig(cfg, tpl.filled);
  log.info({ path: cfg.installer.renderedConfig }, `Installer config rendered to ${cfg.installer.renderedConfig}`);

  let logOffset = fileSize(nucleusLogPath(root));
  let failuresSince: number | undefined;
  if (serviceEnabled(cfg)) {
    // An earlier run got the installer through (power loss afterwards): the enabled service
    // provisions on its own; do not install a second time, go straight to verifying. Its attempt at
    // this boot may already have failed, so the whole log counts, but not what earlier boots logged.
    log.info(
      'greengrass.service is already enabled: an earlier run installed it, so this run verifies without reinstalling',
    );
    logOffset = 0;
    failuresSince = bootTimeMs();
  } else {
    await install(ctx, state, root);
  }

  enter(state, 'verify');
  writeState(cfg.state.stateFile, state);
  const provisionedAs = await verify(ctx, state, root, thingName, logOffset, failuresSince);
  acceptRecordedName(cfg, provisionedAs, thingName, 'after');
  if (provisionedAs !== thingName) {
    log.warn(
      { recorded: provisionedAs, resolved: thingName },
      `The nucleus recorded ThingName ${provisionedAs}, not ${thingName}; keeping it (verify.acceptOtherThingName)`,
    );
  }
  return finish(ctx, state, tpl.fleet, provisionedAs);
}

async function install(ctx: CommandContext, state: AgentState, root: string): Promise<void> {
  const { cfg, log, signal } = ctx;
  enter(state, 'install');
  for (let attempt = 0; ; attempt++) {
    state.installerAttempts += 1;
    writeState(cfg.state.stateFile, state);
    try {
      await runInstaller(cfg, root, log, signal);
      return;
    } catch (err) {
      if (!(err instanceof TransientError)) throw err;
      if (attempt + 1 >= cfg.installer.attempts) {
        throw new TransientError(`${err.message} (gave up after ${attempt + 1} attempts)`, err.reason);
      }
      const delay = backoffDelay(attempt, cfg.backoff);
      const inS = Math.round(delay / 1000);
      log.warn(
        { attempt: attempt + 1, of: cfg.installer.attempts, retryInMs: delay, reason: err.reason },
        `Installer attempt ${attempt + 1} of ${cfg.installer.attempts} failed: ${err.message}; retrying in ${inS} s`,
      );
      recordError(cfg.state.stateFile, state, err);
      await pause(ctx, delay, `installer attempt ${attempt + 2} of ${cfg.installer.attempts}`);
    }
  }
}

async function finish(
  ctx: CommandContext,
  state: AgentState,
  fleet: FleetProvisioningConfig,
  thingName: string,
): Promise<number> {
  const { cfg, log } = ctx;
  enter(state, 'finish');
  state.thingName = thingName;
  writeState(cfg.state.stateFile, state);
  const tlog = readTlog(tlogPath(fleet.rootPath));
  const defaults = deviceCredentialPaths(fleet);
  const certPath = (tlog.get('system.certificateFilePath') as string | undefined) || defaults.certificatePath;
  const keyPath = (tlog.get('system.privateKeyPath') as string | undefined) || defaults.privateKeyPath;
  const missing = [certPath, keyPath].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new TransientError(
      `provisioned as ${thingName} but the device credentials are missing: ${missing.join(', ')}`,
      'device-credentials-missing',
    );
  }
  if (!serviceEnabled(cfg)) {
    throw new TransientError(
      `provisioned as ${thingName} but greengrass.service is not enabled (${cfg.service.isEnabledCommand ? cfg.service.isEnabledCommand.join(' ') : cfg.service.enabledLink})`,
      'service-not-enabled',
    );
  }
  let claimRemoved = false;
  if (cfg.claim.removeAfterProvisioning) {
    const removed = removeFiles([fleet.claimCertificatePath, fleet.claimCertificatePrivateKeyPath]);
    claimRemoved = true;
    log.info({ removed }, `Removed the shared claim certificate and key (${removed.join(', ') || 'already gone'})`);
  }
  const provisionedAt = new Date().toISOString();
  writeSentinel(cfg.state.sentinel, {
    thingName,
    provisionedAt,
    agentVersion: AGENT_VERSION,
    runs: state.runs,
    installerAttempts: state.installerAttempts,
    provisioningRetries: state.provisioningRetries,
    claimRemoved,
  });
  enter(state, 'provisioned');
  state.lastError = null;
  writeState(cfg.state.stateFile, state);
  notifyStatus(`provisioned as ${thingName}`);
  log.info({ sentinel: cfg.state.sentinel }, `Provisioned as ${thingName}; ${cfg.state.sentinel} written`);
  ctx.out(`provisioned as ${thingName}\n`);
  return 0;
}
