// vcsim (govmomi's vSphere API simulator, VMware's code) for the tests that check the OVA and the vsphere-iso
// template. Flow: check that govc and vcsim are installed (else an error naming scripts/setup.sh), make a temp dir,
// start vcsim on a port the kernel picks (-l 127.0.0.1:0) with TMPDIR in that dir (vcsim backs each simulated
// datastore with a temp directory), read the GOVC_URL line it prints, wait until `govc about` answers, and hand back
// the govc environment; stop() ends the one process this started and removes the dir.
// No tap imports: usable from any test or script.
import { superviseServer } from './server-process.ts';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GOVMOMI_SETUP_HINT = 'run scripts/setup.sh as root (it builds govc and vcsim from Debian source)';

export interface VcsimOptions {
  /** vcsim inventory flags, e.g. ['-cluster', '1', '-host', '2', '-vm', '0']. Default: vcsim's own (a VPX). */
  args?: string[];
  /** Credentials vcsim requires (it accepts any by default; these make the check real). */
  username?: string;
  password?: string;
  startTimeoutMs?: number;
}

export interface Vcsim {
  /** https://127.0.0.1:<port>/sdk, without credentials. */
  url: string;
  host: string;
  port: number;
  username: string;
  password: string;
  /** GOVC_URL, GOVC_USERNAME, GOVC_PASSWORD, GOVC_INSECURE (vcsim's certificate is self-signed), GOVMOMI_HOME. */
  env: Record<string, string>;
  /** The temp dir: TMPDIR of vcsim, so its datastores' files are under it. */
  dir: string;
  /** The vcsim process this started. */
  pid: number;
  /** Run govc against this simulator. */
  govc(args: string[], input?: string): SpawnSyncReturns<string>;
  /** govc, throwing with its stderr unless it exits 0; returns stdout. */
  govcOk(args: string[], input?: string): string;
  stop(): Promise<void>;
}

/** govc's version line, or an Error saying what is missing. */
export function govmomiTools(): string {
  const v = spawnSync('govc', ['version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) throw new Error(`govc is not installed or does not run; ${GOVMOMI_SETUP_HINT}`);
  const s = spawnSync('vcsim', ['-h'], { encoding: 'utf8' });
  if (s.error || s.status !== 0) throw new Error(`vcsim is not installed or does not run; ${GOVMOMI_SETUP_HINT}`);
  return v.stdout.trim();
}

export async function startVcsim(o: VcsimOptions = {}): Promise<Vcsim> {
  govmomiTools();
  const username = o.username ?? 'vcsim-user';
  const password = o.password ?? 'vcsim-pass';
  const dir = mkdtempSync(join(tmpdir(), 'gg-vcsim-'));
  const child: ChildProcess = spawn(
    'vcsim',
    ['-l', '127.0.0.1:0', '-username', username, '-password', password, ...(o.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } },
  );
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const server = superviseServer(child);
  const exited = server.exited;
  const stop = async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const fail = async (why: string): Promise<never> => {
    await stop();
    throw new Error(`vcsim ${why}: ${server.stderrTail()}`);
  };

  const timeout = o.startTimeoutMs ?? 30_000;
  const end = Date.now() + timeout;
  // vcsim prints `export GOVC_URL=https://user:pass@127.0.0.1:<port>/sdk GOVC_SIM_PID=<pid>` once it listens.
  let port = 0;
  while (!port) {
    const m = /GOVC_URL=https:\/\/[^@\s]*@127\.0\.0\.1:(\d+)\/sdk/.exec(stdout);
    if (m) port = Number(m[1]);
    else if (exited()) await fail(`ended before listening (${exited()})`);
    else if (Date.now() > end) await fail(`printed no GOVC_URL within ${timeout} ms`);
    else await new Promise((r) => setTimeout(r, 100));
  }
  const host = '127.0.0.1';
  const url = `https://${host}:${port}/sdk`;
  // GOVMOMI_HOME: govc keeps login sessions there (keyed by URL and user); inside dir they go with the simulator.
  const env = {
    GOVC_URL: url,
    GOVC_USERNAME: username,
    GOVC_PASSWORD: password,
    GOVC_INSECURE: '1',
    GOVMOMI_HOME: join(dir, 'govmomi-home'),
  };
  const govc = (args: string[], input?: string) =>
    spawnSync('govc', args, { encoding: 'utf8', input, env: { ...process.env, ...env }, timeout: 120_000 });
  const govcOk = (args: string[], input?: string) => {
    const r = govc(args, input);
    if (r.status !== 0) throw new Error(`govc ${args.join(' ')}: exit ${r.status ?? r.signal}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  while (govc(['about']).status !== 0) {
    if (exited()) await fail(`ended before answering (${exited()})`);
    if (Date.now() > end) await fail(`did not answer govc about on ${url} within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, host, port, username, password, env, dir, pid: child.pid!, govc, govcOk, stop };
}
