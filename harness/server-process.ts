// A simulator or emulator a test starts as a child process (vcsim, moto.server): its end noticed, its stderr's
// tail kept for error messages, and never left behind, not even by a test process that dies without stopping it.
import type { ChildProcess } from 'node:child_process';

export interface ServerProcess {
  /** `exit <code or signal>` once it has ended, null while it runs. */
  exited(): string | null;
  /** The last three lines of its stderr, joined with ` | `. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it is gone. */
  stop(): Promise<void>;
}

export function superviseServer(child: ChildProcess): ServerProcess {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exited: string | null = null;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = `exit ${code ?? signal}`;
      resolve();
    }),
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    exited: () => exited,
    stderrTail: () => stderr.trim().split('\n').slice(-3).join(' | '),
    async stop() {
      process.off('exit', killOnExit);
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    },
  };
}
