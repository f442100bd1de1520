// The builder as it ships: scripts/pack-builder.mjs bundles builder/src (with common/ and cloudformation/) into
// dist/builder/greengrass-image.mjs, the file the npm package runs. The tests run that bundle: what a platform team
// installs, and about half the CPU of loading the TypeScript through tsx at every start (about 200 CLI runs in the
// suite). bin/greengrass-image.js runs the sources in a checkout; test/builder/launcher.test.ts covers that path.
import { join } from 'node:path';
import { REPO_ROOT } from '../common/repo-root.ts';
import { ensureFresh } from './built.ts';

export const BUILDER_BUNDLE = join(REPO_ROOT, 'dist', 'builder', 'greengrass-image.mjs');
const INPUTS = ['builder/src', 'common', 'cloudformation', 'scripts/pack-builder.mjs', 'package.json'];

let checked = false;

/** The bundle's path; refuses one older than its sources (run `npm run build`). Checked once per test process. */
export function builderBundle(): string {
  if (!checked) ensureFresh(BUILDER_BUNDLE, INPUTS, 'scripts/pack-builder.mjs');
  checked = true;
  return BUILDER_BUNDLE;
}

/**
 * The command and arguments that run the builder bundle as a user runs it: plain `node`, without the test runner's
 * hooks. tap adds its process-tracking module (@tapjs/processinfo, kept for coverage, which this suite does not
 * collect) to NODE_OPTIONS of every process a test spawns, whatever env the test passes; it doubles the CPU of a
 * CLI start (about 0.7 to 1.35 CPU-seconds, ~290 starts in the suite). `/usr/bin/env -u` (by path: some tests
 * empty PATH) drops it and execs node under the same PID, so signals sent to the child reach the CLI.
 */
export function builderCommand(args: string[]): [string, string[]] {
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, builderBundle(), ...args]];
}
