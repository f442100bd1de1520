// The agent's record of what happened: state.json (attempts, phase, last error) and the sentinel
// (written only after a confirmed, finished provisioning; the unit's ConditionPathExists=! gate).
// `status` reads these, never the logs. Both are written atomically; neither holds secrets.
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.ts';
import type { CliError } from '../../common/errors.ts';
import { scrubSecrets } from './log.ts';

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

/**
 * state.json is progress bookkeeping (counters, phase, last error), rewritten at every step: it is
 * replaced by rename (never torn) but not fsynced, which would cost start-up time on every step.
 * After a power loss it may be an older version, or (rarely) empty, which reads as a fresh state;
 * correctness never depends on it. The sentinel and the rendered config are fsynced.
 */
export function writeState(path: string, state: AgentState): void {
  state.updatedAt = new Date().toISOString();
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}

export function recordError(path: string, state: AgentState, err: CliError): void {
  // `status` prints this message; it may quote the installer's or the plugin's output.
  state.lastError = { reason: err.reason, message: scrubSecrets(err.message), exitCode: err.exitCode, at: new Date().toISOString() };
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
      unlinkSync(p); // not rmSync: that loads fs's rimraf (about 1 ms at start-up here) to remove a file
      removed.push(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}
