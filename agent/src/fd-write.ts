// The agent's output goes straight to file descriptors 1 and 2 with write(2), not through
// process.stdout / process.stderr. Node makes those streams on first use, and for a pipe or a socket
// (the journal under systemd, a test harness) that is a net.Socket over a libuv pipe handle, which
// also switches the shared fd to non-blocking: a cost on every start for a few log lines that are
// written synchronously anyway (Node writes stdio pipes synchronously on Linux).
import { writeSync } from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Write all of `text` to `fd`. A full non-blocking pipe (EAGAIN) is waited out; a reader that is gone
 * (EPIPE) or a closed fd (EBADF) drops the text: losing a log line must not fail a provisioning run.
 */
export function writeAll(fd: number, text: string): void {
  let buf = Buffer.from(text, 'utf8');
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      if (code === 'EPIPE' || code === 'EBADF') return;
      throw err;
    }
  }
}

export const writeStdout = (text: string): void => writeAll(1, text);
export const writeStderr = (text: string): void => writeAll(2, text);
