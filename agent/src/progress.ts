// What the agent is doing, for `systemctl status greengrass-firstboot`: sd_notify STATUS= (sd_notify(3)), and for
// the journal: every wait logs that it still waits at least every log.progressSeconds (default 30 s).
// The STATUS= datagram goes to $NOTIFY_SOCKET, which systemd sets when the unit has NotifyAccess=. Node has no
// AF_UNIX datagram sockets, so `systemd-notify --no-block --status=` sends it. PID 1 finds the unit of a message by
// its sender's PID and drops one whose sender has already exited ("Cannot find unit for notify message of PID n",
// systemd-notify(1)). Run as root, systemd-notify sends under its parent's PID (the agent, the unit's main process,
// alive for the whole run), so the message is attributed whenever PID 1 reads it. Without --no-block it would also
// send a BARRIER=1 under its own PID and give up on it after 5 s: on a busy first boot PID 1 reads that one after
// systemd-notify is gone and logs the warning above. At most one systemd-notify runs at a time; a newer status
// replaces one still waiting for its turn.
import { spawn } from 'node:child_process';
import type { Logger } from './log.ts';

let running: Promise<void> | null = null;
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
    child.on('error', () => resolve());
    child.on('close', () => resolve());
  }).then(() => {
    running = null;
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

/** Wait (bounded) until the last status has been sent, so the final one is not lost at exit. */
export async function flushStatus(timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((running || pending !== null) && Date.now() < end) {
    await Promise.race([running ?? Promise.resolve(), new Promise((r) => setTimeout(r, 50))]);
  }
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
