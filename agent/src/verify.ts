// Installer exit 0 does not mean provisioned: the plugin runs later inside the nucleus, and on
// failure the nucleus logs it and runs on unprovisioned. So we watch the nucleus's own record
// (config/config.tlog gaining the identity it counts as provisioned) and its log for the plugin's failure line.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { scrubSecrets } from './log.ts';
import { identityFromTlog, type NucleusIdentity } from './provisioned.ts';

export const PLUGIN_FAILURE_LINE = 'Caught exception while running provisioning plugin';

export function tlogPath(rootPath: string): string {
  return join(rootPath, 'config', 'config.tlog');
}
export function nucleusLogPath(rootPath: string): string {
  return join(rootPath, 'logs', 'greengrass.log');
}

/**
 * The latest value of each topic path in a config.tlog (one JSON object per line:
 * {"TS":..,"TP":["system","thingName"],"W":"changed","V":"..."}). A torn last line is skipped.
 */
export function readTlog(path: string): Map<string, unknown> {
  const values = new Map<string, unknown>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return values;
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const rec = JSON.parse(line) as { TP?: unknown; W?: string; V?: unknown };
      if (!Array.isArray(rec.TP)) continue;
      const key = rec.TP.join('.');
      if (rec.W === 'removed') values.delete(key);
      else if (rec.W === 'changed' || rec.W === undefined) values.set(key, rec.V);
    } catch {
      // torn line (power loss mid-append): ignore
    }
  }
  return values;
}

/** The thingName the nucleus has recorded, or null. */
export function recordedThingName(rootPath: string): string | null {
  const v = readTlog(tlogPath(rootPath)).get('system.thingName');
  return typeof v === 'string' && v !== '' ? v : null;
}

/** What the nucleus holds: the recorded ThingName and why, if at all, it would run the provisioning plugin again. */
export function nucleusIdentity(rootPath: string): NucleusIdentity {
  return identityFromTlog(readTlog(tlogPath(rootPath)));
}

/** The recorded ThingName if the nucleus counts the device as provisioned (docs/facts/nucleus-and-plugin.md), else null. */
export function provisionedThingName(rootPath: string): string | null {
  const id = nucleusIdentity(rootPath);
  return id.thingName !== null && id.problems.length === 0 ? id.thingName : null;
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readFrom(path: string, offset: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(path).size;
    if (size < offset) offset = 0; // rotated / truncated
    const buf = Buffer.alloc(Math.min(size - offset, 4 * 1024 * 1024));
    const n = readSync(fd, buf, 0, buf.length, offset);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** A nucleus log line's own time (`2024-05-01T10:00:00.123Z [ERROR] (thread) logger: ...`), NaN if it has none. */
function lineTime(line: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}T\S+Z) \[/.exec(line);
  return m ? Date.parse(m[1] as string) : Number.NaN;
}

/** The first line of a nucleus log entry (`<instant> [LEVEL] (thread) logger: …`); other lines continue an entry. */
const ENTRY_RE = /^\d{4}-\d{2}-\d{2}T\S+Z \[[A-Z]+\] /;

/**
 * The cause of the plugin's failure line (the failure line itself if no cause follows), from `offset` on; null if none. The nucleus writes the exception it
 * caught on the lines after the failure line, as a Java stack trace: the first line names the exception and its
 * message, `Caused by:` lines name the causes, `\tat` frames say nothing about why and are left out. With `sinceMs`,
 * failure lines stamped earlier are not counted (a line without a time is).
 */
export function pluginFailure(logPath: string, offset: number, sinceMs?: number): string | null {
  const text = readFrom(logPath, offset);
  const lines = text.split('\n');
  const i = lines.findIndex(
    (l) => l.includes(PLUGIN_FAILURE_LINE) && !(sinceMs !== undefined && lineTime(l) < sinceMs),
  );
  if (i < 0) return null;
  const cause: string[] = [];
  for (const l of lines.slice(i + 1, i + 200)) {
    if (l.trim() === '' || ENTRY_RE.test(l)) break;
    if (cause.length === 0 || l.startsWith('Caused by: ')) cause.push(l.trim());
  }
  // The cause says why; without one (a stand-in or an older layout), the failure line is all there is.
  const reason = cause.length > 0 ? cause.join(' | ') : (lines[i] as string).trim();
  return scrubSecrets(reason).slice(0, 600);
}

export type VerifyOutcome =
  { status: 'provisioned'; thingName: string } | { status: 'failed'; reason: string } | { status: 'timeout' };

export interface VerifyOptions {
  rootPath: string;
  /** greengrass.log size before the nucleus was (re)started: only newer lines count. */
  logOffset: number;
  /** Also ignore plugin failures logged before this time (ms): the nucleus's log from earlier boots. */
  failuresSince?: number;
  timeoutMs: number;
  /** The longest time between two checks. Changes are normally seen as they happen (file events); this is the fallback. */
  pollMs: number;
  signal?: AbortSignal;
  /** Called once if file events cannot be used (e.g. the inotify instance limit): the wait then polls every pollMs. */
  onWatchUnavailable?: (reason: string) => void;
}

/** After a file event, wait this long for more (one check per burst of appends). */
const SETTLE_MS = 20;
/** At most one check per this many ms however chatty the nucleus log is (or pollMs, if smaller). */
const MIN_CHECK_GAP_MS = 200;

/**
 * Wakes the verify loop when the nucleus writes config/config.tlog or logs/greengrass.log*, using
 * directory watches (inotify): the files, even the directories, may not exist yet, and nothing is created
 * here. A directory that does not exist yet is waited for through a watch on the root. Any watch that
 * cannot be set up leaves the loop on its fallback poll, so a missed or impossible event never hangs it.
 */
class ChangeWaker {
  private readonly watchers = new Map<string, FSWatcher>();
  private pending = false;
  private wake: (() => void) | null = null;
  private closed = false;
  unavailable: string | null = null;

  constructor(private readonly rootPath: string) {}

  /** Watch what exists now (call before each check, so nothing written after the check is missed). */
  arm(): void {
    const targets: Array<[dir: string, relevant: (f: string) => boolean]> = [
      [join(this.rootPath, 'config'), (f) => f.startsWith('config.tlog')],
      [join(this.rootPath, 'logs'), (f) => f.startsWith('greengrass')],
    ];
    if (this.closed || this.unavailable) return;
    let missing = false;
    for (const [dir, relevant] of targets) {
      if (this.watchers.has(dir)) continue;
      if (existsSync(dir)) this.watch(dir, relevant);
      if (!this.watchers.has(dir)) missing = true;
    }
    // config/ or logs/ not there yet: their creation shows up in the root.
    if (missing) this.watch(this.rootPath, (f) => f === 'config' || f === 'logs');
    else this.unwatch(this.rootPath);
  }

  private watch(dir: string, relevant: (f: string) => boolean): void {
    if (this.closed || this.unavailable || this.watchers.has(dir)) return;
    let w: FSWatcher;
    try {
      w = watch(dir, (_event, filename) => {
        if (filename === null || relevant(filename.toString())) this.signal();
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // gone meanwhile: the next arm() sees it
      this.unavailable = `${code ?? ''} ${(err as Error).message}`.trim(); // EMFILE/ENOSPC (inotify limits), ...
      return;
    }
    // e.g. the directory was removed: drop the watch, the next arm() sets it up again.
    w.on('error', () => this.unwatch(dir));
    this.watchers.set(dir, w);
  }

  private unwatch(dir: string): void {
    const w = this.watchers.get(dir);
    if (!w) return;
    this.watchers.delete(dir);
    w.close();
  }

  private signal(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Resolves after a relevant change (coalesced, at least `minGapMs` after `lastCheck`) or after `maxMs`; rejects on abort. */
  next(maxMs: number, minGapMs: number, lastCheck: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      let timer: NodeJS.Timeout;
      const done = (err?: unknown): void => {
        clearTimeout(timer);
        this.wake = null;
        signal?.removeEventListener('abort', onAbort);
        this.pending = false;
        if (err === undefined) resolve();
        else reject(err);
      };
      const onAbort = (): void => done(signal?.reason ?? new Error('aborted'));
      const woken = (): void => {
        this.wake = null; // later events of this burst are covered by the check that follows
        clearTimeout(timer);
        const at = Math.max(Date.now() + SETTLE_MS, lastCheck + minGapMs);
        timer = setTimeout(() => done(), Math.min(at - Date.now(), maxMs));
      };
      timer = setTimeout(() => done(), maxMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.pending) woken();
      else this.wake = woken;
    });
  }

  close(): void {
    this.closed = true;
    this.wake = null;
    for (const dir of [...this.watchers.keys()]) this.unwatch(dir);
  }
}

export async function waitForProvisioning(o: VerifyOptions): Promise<VerifyOutcome> {
  const deadline = Date.now() + o.timeoutMs;
  const waker = new ChangeWaker(o.rootPath);
  let reported = false;
  try {
    for (;;) {
      waker.arm();
      if (waker.unavailable && !reported) {
        reported = true;
        waker.close();
        o.onWatchUnavailable?.(waker.unavailable);
      }
      const checkedAt = Date.now();
      const name = provisionedThingName(o.rootPath);
      if (name) return { status: 'provisioned', thingName: name };
      const failure = pluginFailure(nucleusLogPath(o.rootPath), o.logOffset, o.failuresSince);
      if (failure) {
        // The nucleus may still record the name right after a retried attempt; look once more.
        const again = provisionedThingName(o.rootPath);
        if (again) return { status: 'provisioned', thingName: again };
        return { status: 'failed', reason: failure };
      }
      const left = deadline - Date.now();
      if (left <= 0) return { status: 'timeout' };
      await waker.next(Math.min(o.pollMs, left), Math.min(o.pollMs, MIN_CHECK_GAP_MS), checkedAt, o.signal);
    }
  } finally {
    waker.close();
  }
}

/** When this machine booted (ms since the epoch, by the clock as it is now), from /proc/stat's btime; undefined if unknown. */
export function bootTimeMs(procStat = '/proc/stat'): number | undefined {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync(procStat, 'utf8'));
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}
