// Runs the BUILT agent executable (dist/greengrass-firstboot), building it first if missing.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../common/repo-root.ts';
import { ensureFresh } from './built.ts';
import type { DeviceRoot } from './device-root.ts';

export const REPO = REPO_ROOT;
export const EXE = join(REPO, 'dist', 'greengrass-firstboot');

/** Files the executable is built from (scripts/build.mjs); node_modules stands behind package-lock.json. */
const BUILD_INPUTS = [
  'agent/src',
  'agent/target.json',
  'common',
  'scripts/build.mjs',
  'scripts/pkg-sea.mjs',
  'package-lock.json',
  'package.json',
];

let checked = false;

/** Builds the executable if missing; refuses to test one older than its sources (run `npm run build`). Checked once per test process. */
export function ensureBuilt(): string {
  if (checked) return EXE;
  ensureFresh(EXE, BUILD_INPUTS, 'scripts/build.mjs');
  checked = true;
  return EXE;
}

/** The agent's JSON log lines (its stderr). */
export function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

/** The agent's stderr as a person reads it: each JSON log line replaced by its sentence (msg). */
export function shown(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => (l.startsWith('{') ? String((JSON.parse(l) as { msg?: unknown }).msg ?? '') : l))
    .join('\n');
}

/** Base64 lines of the claim private key as the device holds it when the agent starts (the test's and the file's). */
function claimKeyLines(root: DeviceRoot): string[] {
  const pems = [root.claim.privateKeyPem];
  try {
    pems.push(readFileSync(root.claimKeyPath, 'utf8'));
  } catch {
    // removed or never written by this test
  }
  return pems
    .flatMap((p) => p.split('\n'))
    .map((l) => l.trim())
    .filter((l) => l.length >= 40 && /^[A-Za-z0-9+/=]+$/.test(l));
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

export function startAgent(
  root: DeviceRoot,
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<ExeResult> } {
  ensureBuilt();
  const started = Date.now();
  const child = spawn(EXE, [...args, '--config', root.configPath], {
    env: { PATH: SYSTEM_PATH, HOME: root.dir, ...root.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keyLines = claimKeyLines(root);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // Every run of every agent test: the claim private key must never reach the agent's output (the test log).
  const done = new Promise<ExeResult>((resolve, reject) => {
    child.on('close', (code, signal) => {
      if (keyLines.some((l) => stdout.includes(l) || stderr.includes(l)))
        reject(new Error(`the claim private key appeared in the output of greengrass-firstboot ${args.join(' ')}`));
      else resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
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
