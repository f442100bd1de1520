// Shared by the builder tests: the AWS wire STAND-IN started in-process, and the real CLI
// (bin/greengrass-image.js) run as a child process pointed at it through AWS_ENDPOINT_URL.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa, issueCertificate, type KeyPair } from '../../standins/pki.ts';
import { startAwsStandin, type AwsStandin } from '../../standins/aws/server.ts';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI = join(REPO, 'bin', 'greengrass-image.js');
export const ca: KeyPair = createCa();
export { issueCertificate, startAwsStandin, type AwsStandin };

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function cliEnv(s: AwsStandin, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
  return {
    ...env,
    AWS_ENDPOINT_URL: s.url,
    AWS_ACCESS_KEY_ID: 'AKIDSTANDINTEST',
    AWS_SECRET_ACCESS_KEY: 'stand-in-secret-key',
    AWS_REGION: 'eu-west-1',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    ...extra,
  };
}

export function startCli(args: string[], env: NodeJS.ProcessEnv, cwd = REPO): { child: ChildProcess; done: Promise<CliRun>; stderrSoFar(): string } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((res) => child.once('close', (code, signal) => res({ code, signal, stdout, stderr })));
  return { child, done, stderrSoFar: () => stderr };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, cwd = REPO): Promise<CliRun> {
  return startCli(args, env, cwd).done;
}

/** Staging dirs (greengrass-image-*) left in a TMPDIR. */
export function leftoverStages(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('greengrass-image-'));
}

export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
