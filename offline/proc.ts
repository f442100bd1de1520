// Small process helpers for the offline pipeline: run a command with its output going to a log file,
// a progress line every so often for long steps, and a clear error naming the stage and the log.
import { spawn, type SpawnOptions } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ToolError } from '../common/errors.ts';

export type Progress = (line: string) => void;

/** Cleanups for everything still running (process groups, VMs, stand-ins): run on SIGINT/SIGTERM. */
export const liveChildren = new Set<() => void>();

let stopping = false;

/**
 * Kills everything still running (best effort, synchronous); until `allowChildren`, nothing new starts: a boot
 * running beside a failed one may be about to start its VM.
 */
export function killAllChildren(): void {
  stopping = true;
  for (const k of [...liveChildren]) {
    try {
      k();
    } catch {
      /* already gone */
    }
  }
  liveChildren.clear();
}

/** A new run (the next pipeline in the same process) may start children again. */
export function allowChildren(): void {
  stopping = false;
}

/** Throws when the run is stopping: called before anything is spawned. */
export function refuseWhenStopping(what: string): void {
  if (stopping) throw new ToolError(`${what}: not started, the run is stopping`, 'stopped');
}

/**
 * Like Promise.all for work that starts processes (parallel VM boots): when one fails, the others are stopped and
 * awaited, so nothing they started outlives the failure; then the first failure is thrown.
 */
export async function allOrStop<T>(work: Array<Promise<T>>): Promise<T[]> {
  let first: { error: unknown } | null = null;
  const settled = await Promise.allSettled(
    work.map((p) =>
      p.catch((error: unknown) => {
        if (!first) {
          first = { error };
          killAllChildren();
        }
        throw error;
      }),
    ),
  );
  if (first) throw (first as { error: unknown }).error;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

export const stderrProgress: Progress = (line) => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

export interface RunOptions {
  /** Stage name used in progress lines and errors. */
  stage: string;
  /** Append stdout+stderr here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Stop the process group after this many ms: SIGTERM first, so a `greengrass-image build` removes its staged claim
   * key and packer its VM, then SIGKILL after killGraceMs.
   */
  timeoutMs?: number;
  /** Between the timeout's SIGTERM and SIGKILL (default 90 s: the builder gives packer 60 s to stop its VM). */
  killGraceMs?: number;
  progress?: Progress;
  /** Print "still running" every this many ms (default 30 s). */
  heartbeatMs?: number;
  /** Data to write to stdin (never a secret on argv). */
  input?: string;
}

/** Runs cmd args; resolves with captured stdout; rejects with ToolError naming the stage and the log file. */
export function run(cmd: string, args: string[], o: RunOptions): Promise<string> {
  mkdirSync(dirname(o.logFile), { recursive: true });
  const log = createWriteStream(o.logFile, { flags: 'a' });
  log.write(`\n$ ${cmd} ${args.join(' ')}\n`);
  const started = Date.now();
  const progress = o.progress ?? stderrProgress;
  refuseWhenStopping(`${o.stage}: ${cmd}`);
  return new Promise((resolve, reject) => {
    const sopts: SpawnOptions = {
      cwd: o.cwd,
      env: o.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    };
    const child = spawn(cmd, args, sopts);
    // Own process group (detached): a signal to us must reach e.g. packer's children too.
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* gone */
      }
    };
    const killGroup = () => signalGroup('SIGTERM');
    if (child.pid) liveChildren.add(killGroup);
    let out = '';
    let tail = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      log.write(d);
      tail = (tail + d.toString()).slice(-4000);
    });
    child.stderr!.on('data', (d: Buffer) => {
      log.write(d);
      tail = (tail + d.toString()).slice(-4000);
    });
    if (o.input !== undefined) child.stdin!.end(o.input);
    else child.stdin!.end();
    const hb = setInterval(() => {
      progress(`${o.stage}: still running (${Math.round((Date.now() - started) / 1000)} s)`);
    }, o.heartbeatMs ?? 30_000);
    let timedOut = false;
    let forceKiller: NodeJS.Timeout | undefined;
    const killer = o.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          progress(
            `${o.stage}: timed out after ${Math.round(o.timeoutMs! / 1000)} s; stopping it (SIGTERM, SIGKILL in ${Math.round((o.killGraceMs ?? 90_000) / 1000)} s)`,
          );
          signalGroup('SIGTERM');
          forceKiller = setTimeout(() => signalGroup('SIGKILL'), o.killGraceMs ?? 90_000);
        }, o.timeoutMs)
      : undefined;
    const finish = (err?: Error) => {
      liveChildren.delete(killGroup);
      clearInterval(hb);
      if (killer) clearTimeout(killer);
      if (forceKiller) clearTimeout(forceKiller);
      log.end(() => (err ? reject(err) : resolve(out)));
    };
    child.on('error', (e) =>
      finish(
        new ToolError(`${o.stage}: cannot run ${cmd}: ${e.message} (log: ${o.logFile})`, 'tool-missing', { cause: e }),
      ),
    );
    child.on('close', (code, signal) => {
      if (timedOut)
        return finish(
          new ToolError(`${o.stage}: ${cmd} timed out after ${o.timeoutMs} ms (log: ${o.logFile})`, 'timeout'),
        );
      if (code === 0) return finish();
      const last = tail.trim().split('\n').slice(-15).join('\n');
      finish(
        new ToolError(
          `${o.stage}: ${cmd} failed (${signal ?? `exit ${code}`}); log: ${o.logFile}\n${last}`,
          'tool-failed',
        ),
      );
    });
  });
}
