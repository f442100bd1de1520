// How a run reports itself besides its events: the phase in state.json, on every event (PHASE) and in the unit's
// status line; where the ThingName came from, as a sentence says it; backoff sleeps reported as waits.
import type { AgentConfig } from './agent-config.ts';
import { sleep } from './backoff.ts';
import type { CommandContext } from './commands/context.ts';
import { logContext } from './log.ts';
import { notifyStatus, reportWait } from './progress.ts';
import type { AgentState } from './state.ts';

/** What `systemctl status` shows while the run is in a phase (waits say more, progress.ts). */
const PHASE_STATUS: Record<Exclude<AgentState['phase'], 'new'>, string> = {
  preflight: 'preflight: ThingName, installer config, Java, jars, claim, clock, endpoint',
  render: 'rendering the installer config',
  install: 'running the Greengrass installer',
  verify: 'waiting for the nucleus to provision this machine',
  finish: 'finishing: device credentials, greengrass.service, claim removal, sentinel',
  provisioned: 'provisioned',
};

/** Enter a phase: recorded for status (state.json), on every later event (PHASE) and in the unit's status line. */
export function enter(state: AgentState, phase: keyof typeof PHASE_STATUS): void {
  state.phase = phase;
  logContext.phase = phase;
  notifyStatus(PHASE_STATUS[phase]);
}

/** Where the ThingName came from, as a sentence says it. */
export function sourceText(cfg: AgentConfig): string {
  const t = cfg.thingName;
  if (t.source === 'guestinfo') return `VMware guestinfo.${t.guestinfoKey}`;
  if (t.source === 'serial') return 'DMI serial number';
  if (t.source === 'uuid') return 'DMI UUID';
  if (t.source === 'template') return `template ${t.template}`;
  return 'hostname';
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A backoff sleep, reported as a wait (status line; a log line if it is longer than log.progressSeconds). */
export async function pause(ctx: CommandContext, ms: number, what: string): Promise<void> {
  const waiting = reportWait(ctx.log, what, Math.round(ms / 1000), ctx.cfg.log.progressSeconds);
  try {
    await sleep(ms, ctx.signal);
  } finally {
    waiting.done();
  }
}
