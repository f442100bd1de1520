// Tests run what `npm run build` made (the agent executable, the builder's bundle): this refuses an output older
// than the newest file it is made from, so a test never passes against yesterday's code.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../common/repo-root.ts';

function newestFile(inputs: string[]): { path: string; mtimeMs: number } {
  let newest = { path: '', mtimeMs: 0 };
  const visit = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(join(p, e));
    else if (st.mtimeMs > newest.mtimeMs) newest = { path: p, mtimeMs: st.mtimeMs };
  };
  for (const i of inputs) visit(join(REPO_ROOT, i));
  return newest;
}

/**
 * `output` (made by `script`, run here if the output is missing) must be newer than every file under `inputs`
 * (paths relative to the repo root); otherwise: run `npm run build`.
 */
export function ensureFresh(output: string, inputs: string[], script: string): string {
  if (!existsSync(output)) execFileSync(process.execPath, [join(REPO_ROOT, script)], { stdio: 'ignore' });
  const newest = newestFile(inputs);
  if (statSync(output).mtimeMs < newest.mtimeMs)
    throw new Error(`${output} is older than ${newest.path}: run \`npm run build\` (npm test does) before these tests`);
  return output;
}
