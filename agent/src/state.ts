// The agent's record of what happened: state.json (attempts, phase, last error) and the sentinel
// (written only after a confirmed, finished provisioning; the unit's ConditionPathExists=! gate).
// `status` reads these, never the logs. Both are written atomically; neither holds secrets.
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.ts';
import { CliError, ConfigError, ExitCode, TransientError } from '../../common/errors.ts';
import { scrubSecrets } from './log.ts';

const PHASES = ['new', 'preflight', 'render', 'install', 'verify', 'finish', 'provisioned'] as const;
export type Phase = (typeof PHASES)[number];

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
  return {
    runs: 0,
    installerAttempts: 0,
    provisioningRetries: 0,
    phase: 'new',
    thingName: null,
    lastError: null,
    firstRunAt: null,
    updatedAt: null,
  };
}

/**
 * Only a missing file is absent. Any other read error (permissions: the state dir is 0700 and `status` may be run
 * as another user; a directory in the way) is reported, never taken for "absent" or "present". `undefined` =
 * missing, `null` = present but not JSON.
 */
function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    const hint =
      code === 'EACCES' || code === 'EPERM' ? ' (run as root: the state directory is readable by root only)' : '';
    throw new ConfigError(
      `cannot read the ${what} ${path}: ${code ?? (err as Error).message}${hint}`,
      `${what}-unreadable`,
      { cause: err },
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * `strict` (status): a state file that cannot be read is an error. Otherwise (run) it reads as a fresh state: it is
 * bookkeeping, and the run's own error must stay the one reported (writing it back fails with its own message).
 */
export function readState(path: string, opts: { strict?: boolean } = {}): AgentState {
  // Not JSON (an empty file after a power loss: it is not fsynced) reads as a fresh state.
  let v: unknown;
  try {
    v = readJson(path, 'state');
  } catch (err) {
    if (opts.strict) throw err;
    v = undefined;
  }
  const state = emptyState();
  if (!v || typeof v !== 'object') return state;
  // Field by field: a hand-edited or foreign file must not turn a counter into a string ("2" + 1 = "21").
  const o = v as Record<string, unknown>;
  const count = (x: unknown) => (Number.isInteger(x) && (x as number) >= 0 ? (x as number) : 0);
  const text = (x: unknown) => (typeof x === 'string' ? x : null);
  state.runs = count(o.runs);
  state.installerAttempts = count(o.installerAttempts);
  state.provisioningRetries = count(o.provisioningRetries);
  if (typeof o.phase === 'string' && PHASES.includes(o.phase as Phase)) state.phase = o.phase as Phase;
  state.thingName = text(o.thingName);
  state.firstRunAt = text(o.firstRunAt);
  state.updatedAt = text(o.updatedAt);
  const e = o.lastError as Record<string, unknown> | null | undefined;
  if (
    e &&
    typeof e === 'object' &&
    typeof e.reason === 'string' &&
    typeof e.message === 'string' &&
    typeof e.exitCode === 'number' &&
    typeof e.at === 'string'
  ) {
    state.lastError = { reason: e.reason, message: e.message, exitCode: e.exitCode, at: e.at };
  }
  return state;
}

/**
 * state.json is progress bookkeeping (counters, phase, last error), rewritten at every step: it is
 * replaced by rename (never torn) but not fsynced, which would cost start-up time on every step.
 * After a power loss it may be an older version, or (rarely) empty, which reads as a fresh state;
 * correctness never depends on it. The sentinel and the rendered config are fsynced.
 */
export function writeState(path: string, state: AgentState): void {
  state.updatedAt = new Date().toISOString();
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    try {
      removeFiles([tmp]);
    } catch {
      // left for the next write to replace
    }
    throw stateWriteError(path, err as NodeJS.ErrnoException);
  }
}

/** The state dir is the sentinel's too: a machine that cannot write it cannot finish. Permissions and paths are permanent. */
function stateWriteError(path: string, err: NodeJS.ErrnoException): CliError {
  const message = `cannot write ${path}: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' ');
  if (['EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENAMETOOLONG'].includes(err.code ?? ''))
    return new ConfigError(message, 'state-unwritable', { cause: err });
  return new TransientError(message, 'state-unwritable', { cause: err });
}

/**
 * Record why this run failed, for `status`. Never replaces the run's error: if the state cannot be written either,
 * that is only returned (for a log line).
 */
export function recordError(path: string, state: AgentState, err: unknown): Error | null {
  const e =
    err instanceof CliError
      ? err
      : { reason: 'internal', message: String((err as Error)?.message ?? err), exitCode: ExitCode.INTERNAL };
  // `status` prints this message; it may quote the installer's or the plugin's output.
  state.lastError = {
    reason: e.reason,
    message: scrubSecrets(e.message),
    exitCode: e.exitCode,
    at: new Date().toISOString(),
  };
  try {
    writeState(path, state);
    return null;
  } catch (writeErr) {
    return writeErr as Error;
  }
}

/** The sentinel, or null if there is none. One that cannot be read or is not the agent's is an error, not "done". */
export function readSentinel(path: string): Sentinel | null {
  const v = readJson(path, 'sentinel');
  if (v === undefined) return null;
  if (!v || typeof v !== 'object' || typeof (v as Sentinel).thingName !== 'string') {
    throw new ConfigError(
      `the sentinel ${path} is not the agent's record (not JSON with a thingName): inspect it, then remove it to provision again`,
      'sentinel-corrupt',
    );
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
