// scripts/setup.sh, the set-up both README commands run: without Node >= 20, or without the Python tools of the
// independent checks (moto 5, boto3, aws, cfn-lint), it stops at once with what to install,
// before any apt-get or npm ci.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../../harness/agent-exe.ts';

function fakeBin(dir: string, nodeVersion: string | null): void {
  const marker = join(dir, 'ran');
  if (nodeVersion)
    writeFileSync(
      join(dir, 'node'),
      `#!/bin/sh\n[ "$1" = -p ] && echo ${nodeVersion.split('.')[0]} && exit 0\necho v${nodeVersion}\n`,
    );
  for (const tool of ['npm', 'apt-get', 'dpkg-query'])
    writeFileSync(join(dir, tool), `#!/bin/sh\necho ${tool} >> '${marker}'\nexit 1\n`);
  for (const f of ['node', 'npm', 'apt-get', 'dpkg-query'])
    if (existsSync(join(dir, f))) chmodSync(join(dir, f), 0o755);
}

for (const [label, version] of [
  ['Node 18 (Debian 12 nodejs)', '18.20.4'],
  ['no node at all', null],
] as const) {
  t.test(`setup.sh with ${label}: exit 1 naming Node >= 20, nothing installed`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-setup-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    fakeBin(dir, version);
    // Only the fakes and the shell's basics: /usr/bin holds the machine's real node, so link what the script needs.
    for (const tool of ['dirname', 'bash'])
      spawnSync('ln', [
        '-s',
        spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim(),
        join(dir, tool),
      ]);
    const r = spawnSync('/bin/bash', [join(REPO, 'scripts', 'setup.sh')], { env: { PATH: dir }, encoding: 'utf8' });
    t.equal(r.status, 1, r.stderr);
    t.match(r.stderr, /setup: need Node\.js >= 20 with npm on PATH \(found: (v18\.20\.4|no node)\)/);
    t.notOk(existsSync(join(dir, 'ran')), 'neither dpkg-query, apt-get nor npm ran');
  });
}

interface PyTools {
  python: boolean;
  /** moto's version, null: not installed. */
  moto: string | null;
  boto3: boolean;
  aws: boolean;
  cfnLint: boolean;
}

/** A PATH with Node 20 and npm, and the Python tools as given. */
function pythonBin(dir: string, o: PyTools): void {
  fakeBin(dir, '20.19.0');
  for (const tool of ['dirname', 'bash'])
    spawnSync('ln', [
      '-s',
      spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim(),
      join(dir, tool),
    ]);
  // The fake python3 answers the two questions setup.sh asks: moto's version, and whether boto3 imports.
  const py = `#!/bin/sh\ncase "$2" in\n  *moto*) ${o.moto ? `echo ${o.moto}` : 'exit 1'} ;;\n  *boto3*) exit ${o.boto3 ? 0 : 1} ;;\nesac\n`;
  const tools: [string, boolean, string][] = [
    ['python3', o.python, py],
    ['aws', o.aws, '#!/bin/sh\n'],
    ['cfn-lint', o.cfnLint, '#!/bin/sh\n'],
  ];
  for (const [name, present, text] of tools) {
    if (!present) continue;
    writeFileSync(join(dir, name), text);
    chmodSync(join(dir, name), 0o755);
  }
}

const allTools: PyTools = { python: true, moto: '5.2.1', boto3: true, aws: true, cfnLint: true };
const cases: [string, Partial<PyTools>, RegExp][] = [
  ['no moto', { moto: null }, /moto 5\.x with moto\.server \(python3 has no moto\)/],
  ['moto 4', { moto: '4.2.14' }, /moto 5\.x with moto\.server \(python3 has moto 4\.2\.14\)/],
  [
    'no boto3, no aws, no cfn-lint',
    { boto3: false, aws: false, cfnLint: false },
    /missing Python tools for the independent checks: boto3, awscli \(the aws command\), cfn-lint;/,
  ],
  ['no python3 at all', { python: false }, /independent checks: python3;/],
];
for (const [label, change, message] of cases) {
  t.test(`setup.sh with ${label}: exit 1 naming what is missing, nothing installed`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-setup-py-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    pythonBin(dir, { ...allTools, ...change });
    const r = spawnSync('/bin/bash', [join(REPO, 'scripts', 'setup.sh')], { env: { PATH: dir }, encoding: 'utf8' });
    t.equal(r.status, 1, r.stderr);
    t.match(r.stderr, message);
    t.match(
      r.stderr,
      /install them where PyPI is reachable \(python3 -m pip install 'moto\[server\]>=5,<6' boto3 awscli cfn-lint\), then re-run/,
    );
    t.notOk(existsSync(join(dir, 'ran')), 'neither dpkg-query, apt-get nor npm ran');
  });
}

t.test('setup.sh with every Python tool present goes on to the Debian packages', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gg-setup-py-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  pythonBin(dir, allTools);
  const r = spawnSync('/bin/bash', [join(REPO, 'scripts', 'setup.sh')], { env: { PATH: dir }, encoding: 'utf8' });
  t.notMatch(r.stderr, /missing Python tools/);
  t.match(readFileSync(join(dir, 'ran'), 'utf8'), /dpkg-query/, 'the package check ran');
});
