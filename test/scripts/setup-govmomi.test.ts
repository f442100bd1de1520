// scripts/setup-govmomi.sh, which builds govc and vcsim from Debian's govmomi source: a no-op (fast, no root) when the
// installed pair is Debian's version; a clear exit 1 when apt does not know the package or when a build is needed
// without root; and on this machine (set up by it) nothing left to do.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../../harness/agent-exe.ts';

const SCRIPT = join(REPO, 'scripts', 'setup-govmomi.sh');

interface Fakes {
  /** apt-cache policy's Candidate, null: apt knows no such package. */
  candidate: string | null;
  /** What the installed govc says to `govc version`, null: none installed. */
  govc: string | null;
  uid: number;
}

/** A PATH of fakes (plus the shell basics), and a prefix holding the "installed" govc and vcsim. */
function fakeMachine(dir: string, f: Fakes): { env: NodeJS.ProcessEnv; prefix: string; ran: string } {
  const bin = join(dir, 'bin');
  const prefix = join(dir, 'prefix');
  mkdirSync(bin);
  mkdirSync(prefix);
  const ran = join(dir, 'ran');
  const script = (path: string, body: string) => {
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
  };
  script(
    join(bin, 'apt-cache'),
    f.candidate ? `echo "  Installed: (none)"; echo "  Candidate: ${f.candidate}"` : 'exit 0',
  );
  script(join(bin, 'id'), `echo ${f.uid}`);
  for (const tool of ['apt-get', 'dpkg-query', 'go']) script(join(bin, tool), `echo ${tool} >> '${ran}'; exit 1`);
  if (f.govc) {
    script(join(prefix, 'govc'), `echo '${f.govc}'`);
    script(join(prefix, 'vcsim'), 'exit 0');
  }
  for (const tool of ['awk', 'grep', 'cat']) {
    const real = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    spawnSync('ln', ['-s', real, join(bin, tool)]);
  }
  return { env: { PATH: bin, GOVMOMI_PREFIX: prefix }, prefix, ran };
}

const runScript = (env: NodeJS.ProcessEnv) => spawnSync('/bin/bash', [SCRIPT], { env, encoding: 'utf8' });

t.test('installed govc is Debian version: exit 0 at once, nothing installed, no root needed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gg-govmomi-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const m = fakeMachine(dir, { candidate: '0.24.2-3', govc: 'govc 0.24.2-3', uid: 1000 });
  const r = runScript(m.env);
  t.equal(r.status, 0, r.stderr);
  t.notOk(existsSync(m.ran), 'neither apt-get, dpkg-query nor go ran');
});

t.test('apt knows no golang-github-vmware-govmomi-dev: exit 1 saying so', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gg-govmomi-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const m = fakeMachine(dir, { candidate: null, govc: null, uid: 0 });
  const r = runScript(m.env);
  t.equal(r.status, 1);
  t.match(r.stderr, /setup-govmomi: apt knows no golang-github-vmware-govmomi-dev/);
  t.notOk(existsSync(m.ran), 'nothing installed');
});

t.test('an older govc and no root: exit 1 naming the version it would build', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gg-govmomi-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const m = fakeMachine(dir, { candidate: '0.24.2-4', govc: 'govc 0.24.2-3', uid: 1000 });
  const r = runScript(m.env);
  t.equal(r.status, 1);
  t.match(r.stderr, /setup-govmomi: need root to build and install govc and vcsim 0\.24\.2-4 to /);
  t.notOk(existsSync(m.ran), 'nothing installed');
});

t.test('this machine: govc and vcsim on PATH are the build of Debian version, and a rerun is quick', async (t) => {
  const candidate = /Candidate: (\S+)/.exec(
    spawnSync('apt-cache', ['policy', 'golang-github-vmware-govmomi-dev'], { encoding: 'utf8' }).stdout,
  )?.[1];
  t.ok(candidate, `apt's candidate: ${candidate}`);
  t.equal(spawnSync('govc', ['version'], { encoding: 'utf8' }).stdout.trim(), `govc ${candidate}`);
  t.equal(spawnSync('vcsim', ['-h']).status, 0, 'vcsim runs');
  const started = Date.now();
  const r = spawnSync('/bin/bash', [SCRIPT], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout + r.stderr, '', 'nothing to say');
  t.ok(Date.now() - started < 15_000, `rerun took ${Date.now() - started} ms`);
});
