// Logging: pino JSON lines on stderr (stdout is kept for command output such as `status --json`).
// Under systemd (JOURNAL_STREAM set) every line starts with its syslog priority "<N>", which
// journald strips and stores, so `journalctl -u greengrass-firstboot -p err` shows only errors.
// Secrets are redacted twice: known fields by pino, and any PEM private key block or URL password
// anywhere in a line before it is written; the installer's output, read line by line, also goes through
// privateKeyLineFilter, since a key printed there spans lines.
import pino, { type Logger } from 'pino';
import { writeStderr } from './fd-write.ts';

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

export interface LogOptions {
  level?: string;
  /** Defaults to !!process.env.JOURNAL_STREAM. */
  journal?: boolean;
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const journal = opts.journal ?? !!process.env.JOURNAL_STREAM;
  const write = opts.write ?? writeStderr;
  const stream = {
    write(line: string) {
      let out = scrubSecrets(line);
      if (journal) {
        const m = /"level":(\d+)/.exec(out);
        out = `<${syslogPriority(m ? Number(m[1]) : 30)}>${out}`;
      }
      write(out);
    },
  };
  return pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid },
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
