// Runs the Greengrass nucleus installer (execa) with exactly the arguments the seed script used,
// paths from config. Every output line goes to the log; a timeout kills it; an abort (SIGTERM to
// the agent) stops it cleanly.
import type { Readable } from 'node:stream';
import { InterruptedError, TransientError } from '../../common/errors.ts';
import type { AgentConfig } from './agent-config.ts';
import { privateKeyLineFilter, type Logger } from './log.ts';

/** SIGKILL this long after the timeout's SIGTERM, if the installer is still there. */
export const INSTALLER_KILL_GRACE_SECONDS = 5;

export function installerArgs(cfg: AgentConfig, rootPath: string): string[] {
  return [
    `-Droot=${rootPath}`,
    '-Dlog.store=FILE',
    '-jar',
    cfg.installer.jar,
    '--trusted-plugin',
    cfg.installer.pluginJar,
    '--init-config',
    cfg.installer.renderedConfig,
    '--component-default-user',
    cfg.installer.componentDefaultUser,
    '--setup-system-service',
    'true',
  ];
}

/**
 * Call `fn` with each line of `stream` (LF or CRLF; a last line without a newline counts), resolving at
 * its end. A few lines of code instead of node:readline, which would add six modules to every start.
 */
export function pipeLines(stream: Readable | null | undefined, fn: (line: string) => void): Promise<void> {
  if (!stream) return Promise.resolve();
  return new Promise((resolve) => {
    let rest = '';
    const emit = (line: string) => fn(line.endsWith('\r') ? line.slice(0, -1) : line);
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() as string;
      for (const line of lines) emit(line);
    });
    const end = () => {
      if (rest !== '') emit(rest);
      rest = '';
      resolve();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', () => resolve());
  });
}

export interface InstallerRun {
  exitCode: number | undefined;
  timedOut: boolean;
  /** Last lines of stderr (for the error message). */
  tail: string[];
}

/** Run the installer once. Throws InterruptedError if aborted, TransientError on failure/timeout. */
export async function runInstaller(
  cfg: AgentConfig,
  rootPath: string,
  log: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const { execa } = await import('execa');
  const args = installerArgs(cfg, rootPath);
  log.info({ command: cfg.installer.java, args }, 'starting the Greengrass installer');
  const child = execa(cfg.installer.java, args, {
    reject: false,
    buffer: false,
    stdin: 'ignore',
    timeout: cfg.installer.timeoutSeconds * 1000,
    killSignal: 'SIGTERM',
    forceKillAfterDelay: INSTALLER_KILL_GRACE_SECONDS * 1000,
    cancelSignal: signal,
    // The child's stdout/stderr are ours to drain; a detached grandchild must not hold them open.
    cleanup: true,
  });
  const tail: string[] = [];
  const ilog = log.child({ installer: true });
  const [stdoutKeys, stderrKeys] = [privateKeyLineFilter(), privateKeyLineFilter()];
  const done = Promise.all([
    pipeLines(child.stdout, (raw) => {
      const line = stdoutKeys(raw);
      if (line !== null) ilog.info({ stream: 'stdout' }, line);
    }),
    pipeLines(child.stderr, (raw) => {
      const line = stderrKeys(raw);
      if (line === null) return;
      ilog.warn({ stream: 'stderr' }, line);
      tail.push(line);
      if (tail.length > 20) tail.shift();
    }),
  ]);
  const result = await child;
  // Streams may be held open by a grandchild that inherited them; don't wait for those forever.
  await Promise.race([done, new Promise((r) => setTimeout(r, 2000).unref())]);
  if (result.isCanceled || signal?.aborted) {
    throw signal?.reason instanceof Error ? signal.reason : new InterruptedError('SIGTERM');
  }
  if (result.timedOut) {
    throw new TransientError(
      `the Greengrass installer did not finish within ${cfg.installer.timeoutSeconds} s and was killed`,
      'installer-timeout',
    );
  }
  if (result.exitCode !== 0) {
    const why = tail.find((l) => /Error while trying to setup|Exception|Error/.test(l)) ?? tail.at(-1) ?? '';
    const how = result.exitCode !== undefined ? `exit ${result.exitCode}` : `signal ${result.signal ?? 'unknown'}`;
    throw new TransientError(
      `the Greengrass installer failed (${how})${why ? `: ${why.slice(0, 300)}` : ''}`,
      'installer-failed',
    );
  }
  log.info('the Greengrass installer finished (exit 0); provisioning happens inside the nucleus, verifying');
}
