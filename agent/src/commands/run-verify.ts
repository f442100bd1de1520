// `run`, the verify phase: wait for the nucleus to record the ThingName the plugin provisioned, restarting
// greengrass.service within the retry budget when the plugin fails or nothing is recorded in time.
import { ConfigError, TransientError } from '../../../common/errors.ts';
import { backoffDelay } from '../backoff.ts';
import { classifyPluginFailure, refusedMessage } from '../plugin-failure.ts';
import { reportWait } from '../progress.ts';
import { capitalize, pause } from '../run-report.ts';
import { restartService } from '../service.ts';
import { recordError, writeState, type AgentState } from '../state.ts';
import { fileSize, nucleusIdentity, nucleusLogPath, tlogPath, waitForProvisioning } from '../verify.ts';
import type { CommandContext } from './context.ts';

/**
 * Wait for the nucleus's record; on a plugin failure or no record in time, restart the service after a jittered
 * backoff, as long as the next try starts within verify.retrySeconds (then exit 75, and systemd's restart rule
 * applies). A refusal (access denied in the cause) is permanent: exit 3, claim kept, no sentinel.
 */
export async function verify(
  ctx: CommandContext,
  state: AgentState,
  root: string,
  thingName: string,
  firstOffset: number,
  firstFailuresSince?: number,
): Promise<string> {
  const { cfg, log, signal } = ctx;
  let offset = firstOffset;
  let failuresSince = firstFailuresSince;
  const startedAt = Date.now();
  for (let retries = 0; ; retries++) {
    const waiting = reportWait(
      log,
      'provisioning confirmation',
      cfg.verify.timeoutSeconds,
      cfg.log.progressSeconds,
      {},
      () => `no system.thingName in ${tlogPath(root)} yet`,
    );
    const outcome = await waitForProvisioning({
      rootPath: root,
      logOffset: offset,
      failuresSince,
      timeoutMs: cfg.verify.timeoutSeconds * 1000,
      pollMs: cfg.verify.pollMs,
      signal,
      onWatchUnavailable: (why) =>
        log.info(
          { why, pollMs: cfg.verify.pollMs },
          `Cannot watch the nucleus files for changes (${why}); checking every ${cfg.verify.pollMs} ms (verify.pollMs)`,
        ),
    }).finally(() => waiting.done());
    if (outcome.status === 'provisioned') {
      log.info(`The nucleus recorded ThingName ${outcome.thingName}: provisioning confirmed`);
      return outcome.thingName;
    }
    const kind = outcome.status === 'failed' ? classifyPluginFailure(outcome.reason) : 'timeout';
    if (outcome.status === 'failed' && kind === 'refused') {
      throw new ConfigError(refusedMessage(thingName, outcome.reason), 'provisioning-refused');
    }
    if (outcome.status === 'timeout') refuseIncompleteIdentity(root);
    const reason =
      outcome.status === 'failed'
        ? `the provisioning plugin failed: ${outcome.reason}`
        : `provisioning was not confirmed within ${cfg.verify.timeoutSeconds} s (no system.thingName in ${tlogPath(root)})`;
    const err = new TransientError(reason, `provisioning-${kind}`);
    const delay = backoffDelay(retries, cfg.backoff);
    const spentMs = Date.now() - startedAt;
    if (spentMs + delay > cfg.verify.retrySeconds * 1000) {
      const restarts = `${retries} service restart${retries === 1 ? '' : 's'}`;
      throw new TransientError(
        `${reason} (gave up after ${restarts} in ${Math.round(spentMs / 1000)} s, verify.retrySeconds ${cfg.verify.retrySeconds})`,
        err.reason,
      );
    }
    const why = kind === 'throttled' ? '; AWS is throttling provisioning' : '';
    log.warn(
      { reason: err.reason, retryInMs: delay, attempt: retries + 1 },
      `${capitalize(reason)}${why}; restarting greengrass.service in ${Math.round(delay / 1000)} s (retry ${retries + 1})`,
    );
    recordError(cfg.state.stateFile, state, err);
    await pause(ctx, delay, 'the next provisioning try');
    offset = fileSize(nucleusLogPath(root));
    failuresSince = undefined; // from here on only what the restarted nucleus logs counts
    state.provisioningRetries += 1;
    writeState(cfg.state.stateFile, state);
    await restartService(cfg, log, signal);
  }
}

/**
 * A ThingName recorded without the rest of what the nucleus needs (endpoints, region, certificate paths) after a
 * whole wait: the plugin's result lacks it, so the nucleus would register again at every start. Permanent.
 */
function refuseIncompleteIdentity(root: string): void {
  const held = nucleusIdentity(root);
  if (held.thingName === null || held.problems.length === 0) return;
  throw new ConfigError(
    `the nucleus recorded ThingName ${JSON.stringify(held.thingName)} but is not configured to talk to the cloud (${held.problems.join('; ')}): ` +
      `it would run the provisioning plugin again at every start. Set the missing values in the installer config template (${tlogPath(root)} shows what the nucleus holds). Claim kept, no sentinel written`,
    'nucleus-config-incomplete',
  );
}
