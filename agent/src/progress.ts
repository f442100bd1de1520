// What the agent is doing, for `systemctl status greengrass-firstboot`: sd_notify STATUS= (sd_notify(3)), and for
// the journal: every wait logs that it still waits at least every log.progressSeconds (default 30 s).
// The STATUS= datagram goes to $NOTIFY_SOCKET, which systemd sets when the unit has NotifyAccess=. Node has no
// AF_UNIX datagram sockets, so `systemd-notify --no-block --status=` sends it. PID 1 finds the unit of a message by
// its sender's PID and drops one whose sender has already exited ("Cannot find unit for notify message of PID n",
// systemd-notify(1)). So every message is sent under the agent's PID (the unit's main process) and only while the
// agent lives:
// - Run as root, systemd-notify sends under its parent's PID, the agent's; once its parent is gone, under its own.
//   (--pid would name the agent explicitly, but systemd-notify then adds MAINPID= to the message.)
// - --no-block: otherwise it also sends a BARRIER=1 under its own PID and gives up on it after 5 s; on a busy first
//   boot PID 1 reads that one after systemd-notify is gone.
// - At exit the agent waits (bounded) for the last status, then kills a systemd-notify still starting: on a loaded
//   guest one can take seconds to start, and it would speak as itself after the agent has exited.
// At most one systemd-notify runs at a time; a newer status replaces one still waiting for its turn.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from './log.ts';

let running: Promise<void> | null = null;
let runningChild: ChildProcess | null = null;
let pending: string | null = null;
let lastSent: string | null = null;

function sendNext(): void {
  if (running || pending === null) return;
  const text = pending;
  pending = null;
  lastSent = text;
  running = new Promise<void>((resolve) => {
    let child;
    try {
      child = spawn('systemd-notify', ['--no-block', `--status=${text}`], { stdio: 'ignore' });
    } catch {
      resolve();
      return;
    }
    runningChild = child;
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  }).then(() => {
    running = null;
    runningChild = null;
    sendNext();
  });
}

/** Set the unit's status line; a no-op outside systemd (no NOTIFY_SOCKET). */
export function notifyStatus(text: string): void {
  if (!process.env.NOTIFY_SOCKET) return;
  const line = text.replace(/\s+/g, ' ').slice(0, 200);
  if (line === lastSent && !running) return;
  pending = line;
  sendNext();
}

/**
 * Before exit: wait (bounded) until the last status has been sent, so it is not lost; then kill a systemd-notify
 * still running, so nothing is sent once the agent is gone.
 */
export async function flushStatus(timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((running || pending !== null) && Date.now() < end) {
    await Promise.race([running ?? Promise.resolve(), new Promise((r) => setTimeout(r, 50))]);
  }
  pending = null;
  runningChild?.kill('SIGKILL');
}

export interface Wait {
  /** Stop reporting this wait. */
  done(): void;
}

/**
 * Report a wait: the status line at once and every 5 s (`waiting for the clock, 40 s of 300`), and a log line
 * every `everySeconds` while it lasts (`Still waiting for the clock, 30 s of 300`). `what` is a phrase that
 * continues "waiting for …"; `detail` (optional) is appended to the log line, computed when it is written.
 */
export function reportWait(
  log: Logger,
  what: string,
  boundSeconds: number,
  everySeconds: number,
  fields: Record<string, unknown> = {},
  detail?: () => string,
): Wait {
  const started = Date.now();
  const elapsed = () => Math.floor((Date.now() - started) / 1000);
  const status = () => notifyStatus(`waiting for ${what}, ${elapsed()} s of ${boundSeconds}`);
  status();
  const statusTimer = process.env.NOTIFY_SOCKET ? setInterval(status, 5000) : null;
  statusTimer?.unref();
  const logTimer = setInterval(
    () => {
      const s = elapsed();
      const extra = detail?.();
      log.info(
        { waitedSeconds: s, boundSeconds, ...fields },
        `Still waiting for ${what}, ${s} s of ${boundSeconds}${extra ? ` (${extra})` : ''}`,
      );
    },
    Math.max(100, everySeconds * 1000),
  );
  logTimer.unref();
  return {
    done() {
      if (statusTimer) clearInterval(statusTimer);
      clearInterval(logTimer);
    },
  };
}
