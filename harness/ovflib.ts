// VMware's OVF-environment parser (github.com/vmware/vmw-ovflib, from Debian's golang-github-vmware-vmw-ovflib-dev)
// as a command: harness/ovflib/main.go, built here with Debian's Go in GOPATH mode (GO111MODULE=off,
// GOPATH=/usr/share/gocode, where Debian installs Go library sources), so it builds offline. Tests compare what the
// agent reads from an environment with what VMware's own code reads from it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'ovflib', 'main.go');
const GOPATH = '/usr/share/gocode';

let built: string | undefined;

/** Builds the ovflib command once per process; throws with what to install when Go or ovflib is missing. */
export function buildOvflib(): string {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'ovflib-'));
  const exe = join(dir, 'ovflib-env');
  try {
    execFileSync('go', ['build', '-o', exe, SOURCE], {
      env: { ...process.env, GO111MODULE: 'off', GOPATH, GOCACHE: join(dir, 'cache'), GOFLAGS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? (err as Error).message;
    throw new Error(
      `cannot build ${SOURCE} (needs golang-go and golang-github-vmware-vmw-ovflib-dev: scripts/setup.sh): ${stderr}`,
      { cause: err },
    );
  }
  built = exe;
  return exe;
}

export type OvflibResult = { ok: true; properties: Record<string, string> } | { ok: false; error: string };

/** The properties VMware's parser reads from `xml`, or its error. */
export function ovflibProperties(xml: string): OvflibResult {
  const r = spawnSync(buildOvflib(), [], { input: xml, encoding: 'utf8', timeout: 30_000 });
  if (r.status === 0) return { ok: true, properties: JSON.parse(r.stdout) as Record<string, string> };
  if (r.status === 1) return { ok: false, error: r.stderr.trim() };
  throw new Error(`ovflib-env failed (exit ${r.status ?? r.signal}): ${r.stderr || r.error?.message}`);
}
