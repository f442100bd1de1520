// Runs the BUILT agent executable (dist/greengrass-firstboot), building it first if missing.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceRoot } from '../helpers/device-root.ts';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXE = join(REPO, 'dist', 'greengrass-firstboot');

export function ensureBuilt(): string {
  if (!existsSync(EXE)) execFileSync(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { stdio: 'ignore' });
  return EXE;
}

export interface ExeResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** PATH for the agent: system dirs only (the executable needs no node). */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin';

export function startAgent(root: DeviceRoot, args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<ExeResult> } {
  ensureBuilt();
  const started = Date.now();
  const child = spawn(EXE, [...args, '--config', root.configPath], {
    env: { PATH: SYSTEM_PATH, HOME: root.dir, ...root.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ExeResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
  });
  return { child, done };
}

export function runAgent(root: DeviceRoot, args: string[], env: Record<string, string> = {}): Promise<ExeResult> {
  return startAgent(root, args, env).done;
}

/**
 * A spy in front of the real java: records every invocation's arguments, then execs java.
 * Lets a test prove the installer (`java ... -jar Greengrass.jar`) was never started.
 */
export function javaSpy(root: DeviceRoot): { path: string; calls: () => string[] } {
  const bin = join(root.dir, 'spy-bin');
  mkdirSync(bin, { recursive: true });
  const log = join(bin, 'java-calls.log');
  const realJava = execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim();
  const path = join(bin, 'java');
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${realJava}' "$@"\n`, { mode: 0o755 });
  return { path, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []) };
}

/** A TCP listener standing in for the endpoint where only reachability matters. */
export async function tcpListener(): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { port, close: () => new Promise((r) => server.close(() => r())) };
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const l = await tcpListener();
  await l.close();
  return l.port;
}
