// journald's native protocol for the agent's events: one entry per event, its sentence as MESSAGE and its data as
// fields an operator filters on (`journalctl THING_NAME=branch-017`, `journalctl REASON=clock-not-set`).
// The protocol is a datagram to /run/systemd/journal/socket (systemd's "Native Journal Protocol" page); Node has
// no AF_UNIX datagram sockets, so each entry goes through `logger --journald` (util-linux, in every Debian and
// Ubuntu image: bsdutils is essential), which reads `FIELD=value` lines and sends them as one entry. That costs a
// process per event, a few ms each (docs/measurements.md); the agent logs a few dozen events in a whole run.
import { spawnSync } from 'node:child_process';
import { fstatSync } from 'node:fs';

/**
 * systemd.exec(7): JOURNAL_STREAM holds "<device>:<inode>" of the stream systemd connected to the journal; a
 * process whose stderr is that stream (not redirected elsewhere by a shell) may log through the native protocol.
 */
export function journalStreamMatches(env: NodeJS.ProcessEnv = process.env, fd = 2): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1] as string) && st.ino === BigInt(m[2] as string);
  } catch {
    return false;
  }
}

/** Fields the journal entry sets itself; a log field of the same name gets a prefix instead of overriding them. */
const OWN_FIELDS = new Set(['MESSAGE', 'MESSAGE_ID', 'PRIORITY', 'SYSLOG_IDENTIFIER', 'SYSLOG_PID', 'OBJECT_PID']);

/**
 * A log field's journal name: camelCase to upper snake case (thingName → THING_NAME). journald accepts
 * uppercase ASCII letters, digits and underscores, not starting with a digit or an underscore (a leading
 * underscore marks the fields journald itself vouches for), at most 64 characters.
 */
export function journalFieldName(key: string): string | null {
  const name = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toUpperCase()
    .replace(/^[^A-Z]+/, '')
    .slice(0, 64);
  if (name === '') return null;
  return OWN_FIELDS.has(name) ? `GG_${name}` : name;
}

/** A field value on one line: `logger --journald` reads one field per line. */
function oneLine(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return (text ?? '').replace(/\r?\n/g, ' | ').replace(/\r/g, ' ');
}

export interface JournalEntry {
  message: string;
  priority: number;
  fields: Record<string, unknown>;
}

/** The entry as `FIELD=value` lines. */
export function journalFields(entry: JournalEntry, identifier: string, pid = process.pid): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['MESSAGE', oneLine(entry.message)],
    ['PRIORITY', String(entry.priority)],
    ['SYSLOG_IDENTIFIER', identifier],
    // logger is the sender: SYSLOG_PID names the agent. OBJECT_PID (honoured from root) makes journald attach the
    // agent's unit as OBJECT_SYSTEMD_UNIT, which `journalctl -u` also matches, even when logger has exited before
    // journald looked up its cgroup.
    ['SYSLOG_PID', String(pid)],
    ['OBJECT_PID', String(pid)],
  ];
  for (const [key, value] of Object.entries(entry.fields)) {
    if (value === undefined || value === null) continue;
    const name = journalFieldName(key);
    if (name) out.push([name, oneLine(value)]);
  }
  return out;
}

/** Send one entry; false if it could not be handed to logger (then the caller writes the line to stderr). */
export function sendToJournal(fields: Array<[string, string]>, logger = 'logger'): boolean {
  const input = fields.map(([k, v]) => `${k}=${v}\n`).join('');
  const r = spawnSync(logger, ['--journald'], { input, stdio: ['pipe', 'ignore', 'ignore'], timeout: 5000 });
  return !r.error && r.status === 0;
}
