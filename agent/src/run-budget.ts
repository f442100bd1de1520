// The longest one `greengrass-firstboot run` can take under a config, from the bounds run.ts enforces. The unit's
// TimeoutStartSec= must exceed it for the default config (test/agent/unit.test.ts): the agent then always ends
// an attempt itself, with its own reason in `status`, instead of being killed by systemd halfway.
import type { AgentConfig } from './agent-config.ts';
import { INSTALLER_KILL_GRACE_SECONDS } from './installer.ts';
import { JAVA_VERSION_TIMEOUT_SECONDS } from './preflight.ts';
import { IS_ENABLED_COMMAND_TIMEOUT_SECONDS, RESTART_COMMAND_TIMEOUT_SECONDS } from './service.ts';

export function worstCaseRunSeconds(cfg: AgentConfig): number {
  const backoffMax = cfg.backoff.maxMs / 1000;
  const preflight =
    JAVA_VERSION_TIMEOUT_SECONDS +
    cfg.preflight.clockWaitSeconds +
    cfg.preflight.networkWaitSeconds +
    cfg.preflight.connectTimeoutMs / 1000;
  const install =
    cfg.installer.attempts * (cfg.installer.timeoutSeconds + INSTALLER_KILL_GRACE_SECONDS) +
    (cfg.installer.attempts - 1) * backoffMax;
  // One verify round: wait for the record, back off, restart the service. Rounds start only within
  // verify.retrySeconds; the one started last may run its full length, and the first wait comes before any retry.
  const round = cfg.verify.timeoutSeconds + backoffMax + RESTART_COMMAND_TIMEOUT_SECONDS;
  const verify = cfg.verify.retrySeconds + 2 * round;
  return Math.ceil(preflight + install + verify + 2 * IS_ENABLED_COMMAND_TIMEOUT_SECONDS);
}
