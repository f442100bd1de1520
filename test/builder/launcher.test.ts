// bin/greengrass-image.js in a source checkout runs the TypeScript sources (through tsx), not the bundle the other
// builder tests run: an engineer's edit shows at once, with no build step. The installed package's path (the
// bundle, production dependencies only) is test/builder/pack.test.ts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../common/repo-root.ts';

const BIN = join(REPO_ROOT, 'bin', 'greengrass-image.js');

t.test('in a checkout, the launcher runs the sources: help lists the commands, a usage error exits 2', async (t) => {
  const help = spawnSync(process.execPath, [BIN, '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
  t.equal(help.status, 0, help.stderr);
  for (const cmd of ['claim', 'config', 'build', 'validate', 'cores', 'fleet', 'devices'])
    t.match(help.stdout, new RegExp(`greengrass-image ${cmd}\\b`), `help lists ${cmd}`);
  const bad = spawnSync(process.execPath, [BIN, 'no-such-command'], { cwd: REPO_ROOT, encoding: 'utf8' });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /no-such-command/);
  t.notMatch(bad.stderr, /at .*\.ts:\d+/, 'no stack trace');
});
