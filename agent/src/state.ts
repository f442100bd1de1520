// The agent's record of what happened: state.json (attempts, phase, last error) and the sentinel
// (written only after a confirmed, finished provisioning; the unit's ConditionPathExists=! gate).
// `status` reads these, never the logs. Both are written atomically; neither holds secrets.
import { readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../../common/atomic-write.ts';
import type { CliError } from '../../common/errors.ts';

export type Phase = 'new' | 'preflight' | 'render' | 'install' | 'verify' | 'finish' | 'provisioned';

export interface LastError {
  reason: string;
  message: string;
  exitCode: number;
  at: string;
}

export interface AgentState {
  /** `run` invocations that did work (not counting runs that found the sentinel). */
  runs: number;
  /** Installer invocations, over all runs. */
  installerAttempts: number;
  /** Service restarts to retry provisioning, over all runs. */
  provisioningRetries: number;
  phase: Phase;
  thingName: string | null;
  lastError: LastError | null;
  firstRunAt: string | null;
  updatedAt: string | null;
}

export interface Sentinel {
  thingName: string;
  provisionedAt: string;
  agentVersion: string;
  runs: number;
  installerAttempts: number;
  provisioningRetries: number;
  claimRemoved: boolean;
}

export function emptyState(): AgentState {
  return { runs: 0, installerAttempts: 0, provisioningRetries: 0, phase: 'new', thingName: null, lastError: null, firstRunAt: null, updatedAt: null };
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A torn or corrupt file cannot happen with atomic writes; treat it as absent rather than wedge.
    return null;
  }
}

export function readState(path: string): AgentState {
  const v = readJson(path);
  if (!v || typeof v !== 'object') return emptyState();
  return { ...emptyState(), ...(v as Partial<AgentState>) };
}

export function writeState(path: string, state: AgentState): void {
  state.updatedAt = new Date().toISOString();
  writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, 0o644);
}

export function recordError(path: string, state: AgentState, err: CliError): void {
  state.lastError = { reason: err.reason, message: err.message, exitCode: err.exitCode, at: new Date().toISOString() };
  writeState(path, state);
}

export function readSentinel(path: string): Sentinel | null {
  const v = readJson(path);
  if (v === undefined) return null;
  if (!v || typeof v !== 'object' || typeof (v as Sentinel).thingName !== 'string') {
    // Present but unreadable still means "done" for systemd; report what we can.
    return { thingName: '(unreadable sentinel)', provisionedAt: '', agentVersion: '', runs: 0, installerAttempts: 0, provisioningRetries: 0, claimRemoved: false };
  }
  return v as Sentinel;
}

export function writeSentinel(path: string, s: Sentinel): void {
  writeFileAtomic(path, `${JSON.stringify(s, null, 2)}\n`, 0o644);
}

export function removeFiles(paths: string[]): string[] {
  const removed: string[] = [];
  for (const p of paths) {
    try {
      rmSync(p);
      removed.push(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}
