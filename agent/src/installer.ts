// Runs the Greengrass nucleus installer (execa) with exactly the arguments the seed script used,
// paths from config. Every output line goes to the log; a timeout kills it; an abort (SIGTERM to
// the agent) stops it cleanly.
import type { Readable } from 'node:stream';
import { InterruptedError, TransientError } from '../../common/errors.ts';
import type { AgentConfig } from './agent-config.ts';
import { privateKeyLineFilter, type Logger } from './log.ts';
import { reportWait } from './progress.ts';

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

/** The installer's catch-all line before the stack trace of what went wrong (nucleus GreengrassSetup.java). */
export const SETUP_ERROR_LINE = 'Error while trying to setup Greengrass Nucleus';

/**
 * The installer's stderr, read for the exception it failed with: after SETUP_ERROR_LINE it prints the stack
 * trace, whose first line names the exception and its message, and whose last "Caused by:" line the root cause.
 */
export function exceptionReader(): { line(l: string): void; summary(): string | null } {
  let afterSetupError = false;
  let exception: string | null = null;
  let cause: string | null = null;
  return {
    line(l) {
      const t = l.trim();
      if (t === SETUP_ERROR_LINE) {
        afterSetupError = true;
        return;
      }
      if (!afterSetupError || t === '' || /^at |^\.\.\. \d+ more$/.test(t)) return;
      if (t.startsWith('Caused by: ')) cause = t.slice('Caused by: '.length);
      else exception ??= t;
    },
    summary() {
      if (!exception) return null;
      return cause && !exception.includes(cause) ? `${exception} (caused by ${cause})` : exception;
    },
  };
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
  const args = installerArgs(cfg, rootPath);
  log.info(
    { command: cfg.installer.java, args },
    `Starting the Greengrass installer: ${cfg.installer.java} ${args.join(' ')}`,
  );
  const waiting = reportWait(
    log,
    'the Greengrass installer to finish',
    cfg.installer.timeoutSeconds,
    cfg.log.progressSeconds,
  );
  try {
    await installOnce(cfg, args, log, signal);
  } finally {
    waiting.done();
  }
  log.info('The Greengrass installer finished (exit 0); the nucleus provisions this machine now, verifying');
}

async function installOnce(cfg: AgentConfig, args: string[], log: Logger, signal?: AbortSignal): Promise<void> {
  const { execa } = await import('execa');
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
    // The unit's status line is the agent's: nothing the installer starts may set it.
    env: { NOTIFY_SOCKET: undefined },
  });
  const tail: string[] = [];
  const failure = exceptionReader();
  const ilog = log.child({ installer: true });
  const [stdoutKeys, stderrKeys] = [privateKeyLineFilter(), privateKeyLineFilter()];
  const done = Promise.all([
    pipeLines(child.stdout, (raw) => {
      const line = stdoutKeys(raw);
      if (line === null) return;
      ilog.info({ stream: 'stdout' }, `Installer: ${line}`);
      failure.line(line);
    }),
    pipeLines(child.stderr, (raw) => {
      const line = stderrKeys(raw);
      if (line === null) return;
      ilog.warn({ stream: 'stderr' }, `Installer: ${line}`);
      failure.line(line);
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
    const why = failure.summary() ?? [...tail].reverse().find((l) => /Exception|Error/.test(l)) ?? tail.at(-1) ?? '';
    const how = result.exitCode !== undefined ? `exit ${result.exitCode}` : `signal ${result.signal ?? 'unknown'}`;
    throw new TransientError(
      `the Greengrass installer failed (${how})${why ? `: ${why.slice(0, 300)}` : ''}`,
      'installer-failed',
    );
  }
}
