// Logging: pino is the logger; every event is a sentence (its msg) with its data as fields. Where it goes:
//   under systemd (JOURNAL_STREAM names stderr), format auto: one journal entry per event through journald's
//     native protocol (journal.ts): the sentence as MESSAGE, the fields as THING_NAME, PHASE, REASON, ...;
//   elsewhere (a terminal, a pipe), format auto or text: the sentence on stderr, "warning: "/"error: " before it;
//   format json: pino's JSON lines on stderr for machines (under systemd with their "<N>" priority prefix).
// stdout is kept for command output such as `status --json`.
// Secrets are redacted twice: known fields by pino, and any PEM private key block or URL password
// anywhere in a line before it is written; the installer's output, read line by line, also goes through
// privateKeyLineFilter, since a key printed there spans lines.
import pino, { type Logger } from 'pino';
import { writeStderr } from './fd-write.ts';
import { journalFields, journalStreamMatches, sendToJournal, type JournalEntry } from './journal.ts';

export type { Logger };

/** pino level → syslog priority (sd-daemon(3)). */
export function syslogPriority(level: number): number {
  if (level >= 60) return 2; // fatal → crit
  if (level >= 50) return 3; // error → err
  if (level >= 40) return 4; // warn → warning
  if (level >= 30) return 6; // info → info
  return 7; // debug/trace → debug
}

const PEM_KEY_RE = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)/g;
const URL_PASSWORD_RE = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]+):[^\s@/]+@/gi;

/** Remove private key material and URL passwords from any text. */
export function scrubSecrets(text: string): string {
  return text.replace(PEM_KEY_RE, '[REDACTED PRIVATE KEY]').replace(URL_PASSWORD_RE, '$1:[REDACTED]@');
}

const PEM_KEY_BEGIN_RE = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----/;

/**
 * For output read line by line (the installer's), where a PEM private key spans lines that scrubSecrets never sees
 * together: a filter for one stream. The line that opens a key comes back scrubbed; every following line up to and
 * including the one with the key's END marker comes back null (drop it).
 */
export function privateKeyLineFilter(): (line: string) => string | null {
  let endMarker: string | null = null;
  return (line) => {
    if (endMarker !== null) {
      if (line.includes(endMarker)) endMarker = null;
      return null;
    }
    const begin = PEM_KEY_BEGIN_RE.exec(line);
    if (begin) {
      const end = `-----END ${begin[1]}PRIVATE KEY-----`;
      if (!line.slice(begin.index).includes(end)) endMarker = end;
    }
    return scrubSecrets(line);
  };
}

export type LogFormat = 'auto' | 'text' | 'json';

/** What every event carries once known: the run's phase and ThingName (fields PHASE, THING_NAME). */
export const logContext: { phase?: string; thingName?: string } = {};

export interface LogOptions {
  level?: string;
  format?: LogFormat;
  /** stderr is systemd's journal stream; default journalStreamMatches(). */
  journal?: boolean;
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
  /** Sends one native journal entry; false when it could not (the line then goes to `write`). */
  send?: (fields: Array<[string, string]>) => boolean;
}

export const SYSLOG_IDENTIFIER = 'greengrass-firstboot';

/** Keys of pino's JSON that are not the event's own data. */
const PINO_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

function textPrefix(level: number): string {
  if (level >= 50) return 'error: ';
  if (level >= 40) return 'warning: ';
  if (level < 30) return 'debug: ';
  return '';
}

/** Where events go for these options: 'journal' (native entries), 'text' or 'json' (lines on stderr). */
export function logSink(opts: LogOptions = {}): 'journal' | 'text' | 'json' {
  const format = opts.format ?? 'auto';
  if (format !== 'auto') return format;
  return (opts.journal ?? journalStreamMatches()) ? 'journal' : 'text';
}

export function createLogger(opts: LogOptions = {}): Logger {
  const journal = opts.journal ?? journalStreamMatches();
  const sink = logSink({ ...opts, journal });
  const write = opts.write ?? writeStderr;
  const send = opts.send ?? sendToJournal;
  const stream = {
    write(line: string) {
      const scrubbed = scrubSecrets(line);
      if (sink === 'json') {
        const m = /"level":(\d+)/.exec(scrubbed);
        write(journal ? `<${syslogPriority(m ? Number(m[1]) : 30)}>${scrubbed}` : scrubbed);
        return;
      }
      const event = JSON.parse(scrubbed) as Record<string, unknown>;
      const level = typeof event.level === 'number' ? event.level : 30;
      const message = String(event.msg ?? '');
      if (sink === 'journal') {
        const fields: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(event)) if (!PINO_KEYS.has(k)) fields[k] = v;
        const entry: JournalEntry = { message, priority: syslogPriority(level), fields };
        if (send(journalFields(entry, SYSLOG_IDENTIFIER))) return;
        // No logger or no journal: the stream systemd gave us still reaches the journal, with the priority.
        write(`<${syslogPriority(level)}>${message.replace(/\n/g, ' | ')}\n`);
        return;
      }
      write(`${textPrefix(level)}${message}\n`);
    },
  };
  return pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      mixin: () => ({ ...logContext }),
      redact: {
        paths: [
          'privateKey',
          'privateKeyPem',
          'proxyPassword',
          '*.privateKey',
          '*.privateKeyPem',
          '*.proxyPassword',
          'config.services.*.configuration.proxyPassword',
        ],
        censor: '[REDACTED]',
      },
    },
    stream,
  );
}
