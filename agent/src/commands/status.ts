// `greengrass-firstboot status [--json]`: what happened, from state.json and the sentinel (never the logs).
// The exit code tells the three outcomes apart, as cloud-init's status does: 0 done (provisioned); 3 stopped on
// a permanent error (the unit will not retry: an operator must act); 75 not done yet (never run, running, or
// failed transiently and will be retried). A file that cannot be read is an error (3), never a guess.
import { ExitCode } from '../../../common/errors.ts';
import { readSentinel, readState } from '../state.ts';
import type { CommandContext } from './context.ts';

export interface StatusReport {
  provisioned: boolean;
  thingName: string | null;
  provisionedAt: string | null;
  phase: string;
  runs: number;
  installerAttempts: number;
  provisioningRetries: number;
  claimRemoved: boolean | null;
  lastError: { reason: string; message: string; exitCode: number; at: string } | null;
  firstRunAt: string | null;
  updatedAt: string | null;
  agentVersion: string | null;
}

export function statusReport(ctx: Pick<CommandContext, 'cfg'>): StatusReport {
  const s = readSentinel(ctx.cfg.state.sentinel);
  const st = readState(ctx.cfg.state.stateFile, { strict: true });
  return {
    provisioned: !!s,
    thingName: s?.thingName ?? st.thingName,
    provisionedAt: s?.provisionedAt || null,
    phase: s ? 'provisioned' : st.phase,
    runs: Math.max(st.runs, s?.runs ?? 0),
    installerAttempts: Math.max(st.installerAttempts, s?.installerAttempts ?? 0),
    provisioningRetries: Math.max(st.provisioningRetries, s?.provisioningRetries ?? 0),
    claimRemoved: s ? s.claimRemoved : null,
    lastError: s ? null : st.lastError,
    firstRunAt: st.firstRunAt,
    updatedAt: st.updatedAt,
    agentVersion: s?.agentVersion || null,
  };
}

/** Exit code of `status` for a report (see the header). */
export function statusExitCode(r: StatusReport): number {
  if (r.provisioned) return ExitCode.OK;
  // Usage and configuration errors are the ones the unit does not restart on (RestartPreventExitStatus=2 3).
  if (r.lastError && (r.lastError.exitCode === ExitCode.CONFIG || r.lastError.exitCode === ExitCode.USAGE))
    return ExitCode.CONFIG;
  return ExitCode.TRANSIENT;
}

export function statusCommand(ctx: CommandContext, opts: { json: boolean }): number {
  const r = statusReport(ctx);
  if (opts.json) {
    ctx.out(`${JSON.stringify(r, null, 2)}\n`);
    return statusExitCode(r);
  }
  const lines = [
    `provisioned:   ${r.provisioned ? 'yes' : 'no'}`,
    `thing name:    ${r.thingName ?? '-'}`,
    `when:          ${r.provisionedAt ?? '-'}`,
    `phase:         ${r.phase}`,
    `runs:          ${r.runs}`,
    `installer:     ${r.installerAttempts} attempt(s), ${r.provisioningRetries} provisioning retr${r.provisioningRetries === 1 ? 'y' : 'ies'}`,
  ];
  if (r.claimRemoved !== null) lines.push(`claim removed: ${r.claimRemoved ? 'yes' : 'no'}`);
  if (r.lastError)
    lines.push(
      `last error:    [${r.lastError.reason}, exit ${r.lastError.exitCode}, ${r.lastError.at}] ${r.lastError.message}`,
    );
  ctx.out(`${lines.join('\n')}\n`);
  return statusExitCode(r);
}
