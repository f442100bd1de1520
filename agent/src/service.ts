// greengrass.service as the agent sees it: "enabled" (the multi-user.target.wants link that
// `systemctl enable` creates, or a configured command) and "restart" (a configured command).
import { spawn, spawnSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { ConfigError, InterruptedError, TransientError } from '../../common/errors.ts';
import type { AgentConfig } from './agent-config.ts';
import type { Logger } from './log.ts';

export const IS_ENABLED_COMMAND_TIMEOUT_SECONDS = 30;
export const RESTART_COMMAND_TIMEOUT_SECONDS = 120;

export function serviceEnabled(cfg: AgentConfig): boolean {
  if (cfg.service.isEnabledCommand) {
    const [cmd, ...args] = cfg.service.isEnabledCommand as [string, ...string[]];
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: IS_ENABLED_COMMAND_TIMEOUT_SECONDS * 1000 });
    // A command that cannot run at all is a configuration error, not a "not enabled" to retry until the start limit.
    const missing = (r.error as NodeJS.ErrnoException | undefined)?.code;
    if (missing === 'ENOENT' || missing === 'EACCES') {
      throw new ConfigError(`cannot run service.isEnabledCommand ${cmd}: ${missing}`, 'service-command-unavailable', {
        cause: r.error,
      });
    }
    return r.status === 0;
  }
  try {
    lstatSync(cfg.service.enabledLink);
    return true;
  } catch {
    return false;
  }
}

/** Run the restart command to completion (systemctl returns once the service is started). */
export function restartService(cfg: AgentConfig, log: Logger, signal?: AbortSignal): Promise<void> {
  const [cmd, ...args] = cfg.service.restartCommand as [string, ...string[]];
  log.info(
    { command: cfg.service.restartCommand },
    'Restarting greengrass.service so the provisioning plugin runs again',
  );
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      signal,
      timeout: RESTART_COMMAND_TIMEOUT_SECONDS * 1000,
    });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (err.length < 2000) err += d.toString();
    });
    // An abort (SIGTERM to the agent) kills the command; that is an interruption, not a failed restart.
    const interrupted = (): Error =>
      signal?.reason instanceof Error ? signal.reason : new InterruptedError('SIGTERM');
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (signal?.aborted) reject(interrupted());
      else if (e.code === 'ENOENT' || e.code === 'EACCES')
        reject(
          new ConfigError(`cannot run service.restartCommand ${cmd}: ${e.code}`, 'service-command-unavailable', {
            cause: e,
          }),
        );
      else
        reject(
          new TransientError(`cannot run the restart command ${cmd}: ${e.message}`, 'service-restart-failed', {
            cause: e,
          }),
        );
    });
    child.on('close', (code) => {
      if (signal?.aborted) reject(interrupted());
      else if (code === 0) resolve();
      else
        reject(
          new TransientError(
            `the restart command failed (exit ${code}): ${err.trim().slice(0, 300)}`,
            'service-restart-failed',
          ),
        );
    });
  });
}
