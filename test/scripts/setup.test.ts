// scripts/setup.sh, the set-up both README commands run: without Node >= 20 it stops at once with what to install,
// before any apt-get or npm ci.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../../harness/agent-exe.ts';

function fakeBin(dir: string, nodeVersion: string | null): void {
  const marker = join(dir, 'ran');
  if (nodeVersion) writeFileSync(join(dir, 'node'), `#!/bin/sh\n[ "$1" = -p ] && echo ${nodeVersion.split('.')[0]} && exit 0\necho v${nodeVersion}\n`);
  for (const tool of ['npm', 'apt-get', 'dpkg-query']) writeFileSync(join(dir, tool), `#!/bin/sh\necho ${tool} >> '${marker}'\nexit 1\n`);
  for (const f of ['node', 'npm', 'apt-get', 'dpkg-query']) if (existsSync(join(dir, f))) chmodSync(join(dir, f), 0o755);
}

for (const [label, version] of [['Node 18 (Debian 12 nodejs)', '18.20.4'], ['no node at all', null]] as const) {
  t.test(`setup.sh with ${label}: exit 1 naming Node >= 20, nothing installed`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-setup-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    fakeBin(dir, version);
    // Only the fakes and the shell's basics: /usr/bin holds the machine's real node, so link what the script needs.
    for (const tool of ['dirname', 'bash']) spawnSync('ln', ['-s', spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim(), join(dir, tool)]);
    const r = spawnSync('/bin/bash', [join(REPO, 'scripts', 'setup.sh')], { env: { PATH: dir }, encoding: 'utf8' });
    t.equal(r.status, 1, r.stderr);
    t.match(r.stderr, /setup: need Node\.js >= 20 with npm on PATH \(found: (v18\.20\.4|no node)\)/);
    t.notOk(existsSync(join(dir, 'ran')), 'neither dpkg-query, apt-get nor npm ran');
  });
}
