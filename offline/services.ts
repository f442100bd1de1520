// Long-running stand-in processes for the offline pipeline (AWS wire stand-in, provisioning stand-in):
// started with tsx, ready when they print their "listening ..." line, output kept in a log file.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { ToolError } from '../common/errors.ts';
import { REPO_ROOT } from './base-image.ts';
import { liveChildren } from './proc.ts';

export interface Service {
  name: string;
  pid: number;
  /** The text after "listening " on the ready line (e.g. "http://127.0.0.1:4566" or "127.0.0.1:8883"). */
  address: string;
  logFile: string;
  stop(): Promise<void>;
}

/** Runs a TypeScript entry point (repo-relative) with tsx; resolves when stdout prints `listening <address>`. */
export function startTsService(
  name: string,
  entry: string,
  args: string[],
  logFile: string,
  timeoutMs = 60_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Service> {
  const file = join(REPO_ROOT, entry);
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: 'a' });
  log.write(`\n$ tsx ${entry} ${args.join(' ')}\n`);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exited = false;
  const killIt = () => child.kill('SIGTERM');
  liveChildren.add(killIt);
  const exitedP = new Promise<void>((r) => child.on('exit', () => ((exited = true), liveChildren.delete(killIt), r())));
  return new Promise((resolve, reject) => {
    let buf = '';
    let settled = false;
    const t = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new ToolError(`${name}: no "listening" line within ${timeoutMs} ms (log: ${logFile})`, 'service-start'));
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      log.write(d);
      if (settled) return;
      buf += d.toString();
      const m = /listening\s+(\S+)/.exec(buf);
      if (m) {
        settled = true;
        clearTimeout(t);
        resolve({
          name,
          pid: child.pid as number,
          address: m[1],
          logFile,
          stop: async () => {
            if (exited) return;
            child.kill('SIGTERM');
            const k = setTimeout(() => child.kill('SIGKILL'), 5000);
            await exitedP;
            clearTimeout(k);
          },
        });
      }
    });
    child.stderr!.on('data', (d: Buffer) => log.write(d));
    child.on('exit', (code, sig) => {
      log.write(`\n[${name} exited: ${sig ?? code}]\n`);
      if (!settled) {
        settled = true;
        clearTimeout(t);
        reject(
          new ToolError(
            `${name}: exited (${sig ?? `exit ${code}`}) before listening (log: ${logFile})`,
            'service-start',
          ),
        );
      }
    });
  });
}

/** A TCP port free on 127.0.0.1 right now (the provisioning stand-in must come back on the same port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
