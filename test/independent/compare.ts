// Runs one builder scenario against the AWS stand-in and against moto and compares, step by step, the exit codes and
// the end state read back through the AWS APIs (snapshot.ts). A scenario is a list of steps; a step is a CLI run or
// an API set-up action; `checkpoint` steps take a snapshot. A difference names the step and the backend.
import type { Test } from 'tap';
import { motoBackend, standinBackend, type Backend, type MotoServer } from './backends.ts';
import { normaliseEndpoints, snapshot, type Snapshot } from './snapshot.ts';

export type Step =
  | { cli: string[] | ((b: Backend) => string[]); label?: string }
  | { act: (b: Backend) => Promise<void> | void; label: string }
  | { checkpoint: string };

export interface StepResult {
  label: string;
  code?: number | null;
  /** stdout with endpoint hostnames normalised (only kept when the step asks for it). */
  stdout?: string;
  snapshot?: Snapshot;
}

export interface Run {
  backend: Backend['name'];
  results: StepResult[];
  /** stderr of every CLI step, for failure messages. */
  log: string[];
}

/** Run `steps` against one backend, closing it afterwards. `keepStdout` keeps normalised stdout of CLI steps. */
export async function runSteps(b: Backend, steps: Step[], keepStdout = false): Promise<Run> {
  const run: Run = { backend: b.name, results: [], log: [] };
  try {
    for (const s of steps) {
      if ('cli' in s) {
        const args = typeof s.cli === 'function' ? s.cli(b) : s.cli;
        const r = await b.cli(args);
        run.log.push(`$ ${args.join(' ')} -> ${r.code}\n${r.stderr}`);
        const out = keepStdout ? { stdout: normaliseEndpoints(r.stdout) } : {};
        run.results.push({ label: s.label ?? args.slice(0, 2).join(' '), code: r.code, ...out });
      } else if ('act' in s) {
        await s.act(b);
      } else {
        run.results.push({ label: `checkpoint ${s.checkpoint}`, snapshot: await snapshot(b) });
      }
    }
  } finally {
    await b.close();
  }
  return run;
}

/** The scenario on both backends; every step's result compared; returns both runs for further checks. */
export async function bothBackends(
  t: Test,
  moto: MotoServer,
  steps: Step[],
  o: { keepStdout?: boolean } = {},
): Promise<{ standin: Run; moto: Run }> {
  // Both at once: they share nothing but the builder's code.
  const [standin, other] = await Promise.all([
    standinBackend().then((b) => runSteps(b, steps, o.keepStdout)),
    motoBackend(moto).then((b) => runSteps(b, steps, o.keepStdout)),
  ]);
  standin.results.forEach((r, i) => {
    t.same(other.results[i], r, `${r.label}: moto and the stand-in agree`, { diagnostic: true });
  });
  if (standin.results.some((r, i) => JSON.stringify(r) !== JSON.stringify(other.results[i]))) {
    t.comment(`stand-in log:\n${standin.log.join('\n')}\nmoto log:\n${other.log.join('\n')}`);
  }
  return { standin, moto: other };
}

/** The snapshot of one checkpoint. */
export function at(run: Run, checkpoint: string): Snapshot {
  const r = run.results.find((x) => x.label === `checkpoint ${checkpoint}`);
  if (!r?.snapshot) throw new Error(`no checkpoint ${checkpoint} in the ${run.backend} run`);
  return r.snapshot;
}
