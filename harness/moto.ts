// moto (github.com/getmoto/moto, an AWS emulator maintained outside this project) as a second, independent backend
// for the builder's IoT and Secrets Manager calls. Flow: check that python3 has moto 5.x with moto.server (else an
// error naming scripts/setup.sh), pick a free port, start the server, wait until /moto-api/ answers; reset() empties
// every moto backend between scenarios (POST /moto-api/reset); stop() ends the one process this started.
// IoT certificate ids: moto hashes the PEM text unless its `iot.use_valid_cert` option is on, which moto.server only
// takes in-process, so the server is started from a two-line Python launcher that sets it first.
// No tap imports: usable from any test or script.
import { superviseServer } from './server-process.ts';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface MotoServer {
  url: string;
  port: number;
  /** moto's version string (5.x). */
  version: string;
  /** Empty every moto backend (all accounts, all regions). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export interface MotoOptions {
  /** Certificate id = SHA-256 of the DER, as AWS computes it (moto's `iot.use_valid_cert`). Default true. */
  validCertIds?: boolean;
  /** How long to wait for the server to answer (default 30 s: moto imports slowly on a loaded host). */
  startTimeoutMs?: number;
}

export const SETUP_HINT = 'run scripts/setup.sh on this machine (it checks the Python tools of the independent checks)';

/** moto's version, or an Error saying what is missing and pointing at setup.sh. */
export function motoVersion(python = 'python3'): string {
  const r = spawnSync(python, ['-c', 'import moto, moto.server; print(moto.__version__)'], { encoding: 'utf8' });
  if (r.error) {
    throw new Error(`${python} not found (${(r.error as NodeJS.ErrnoException).code}): moto needs it; ${SETUP_HINT}`);
  }
  if (r.status !== 0) {
    throw new Error(`${python} has no moto with moto.server (${r.stderr.trim().split('\n').pop()}); ${SETUP_HINT}`);
  }
  const v = r.stdout.trim();
  if (!/^5\./.test(v)) throw new Error(`${python} has moto ${v}; these checks are written for moto 5.x; ${SETUP_HINT}`);
  return v;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const LAUNCHER = [
  'import sys',
  'from moto.core.config import default_user_config',
  "default_user_config['iot']['use_valid_cert'] = sys.argv[1] == 'valid'",
  'from moto.server import main',
  "main(['-H', '127.0.0.1', '-p', sys.argv[2]])",
].join('\n');

async function answers(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}

export async function startMoto(o: MotoOptions = {}): Promise<MotoServer> {
  const version = motoVersion();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idMode = o.validCertIds === false ? 'pem' : 'valid';
  const child: ChildProcess = spawn('python3', ['-c', LAUNCHER, idMode, String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const { exited, stderrTail: tail, stop } = superviseServer(child);
  const timeout = o.startTimeoutMs ?? 30_000;
  const end = Date.now() + timeout;
  while (!(await answers(url))) {
    if (exited()) throw new Error(`moto.server ended before answering (${exited()}): ${tail()}`);
    if (Date.now() > end) {
      await stop();
      throw new Error(`moto.server did not answer on ${url} within ${timeout} ms: ${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    port,
    version,
    async reset() {
      const r = await fetch(`${url}/moto-api/reset`, { method: 'POST' });
      if (!r.ok) throw new Error(`moto reset answered HTTP ${r.status}`);
      await r.arrayBuffer();
    },
    stop,
  };
}
