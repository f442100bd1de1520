// --settings FILE: a YAML mapping with the same keys as the command's flags (kebab-case or
// camelCase). Flags given on the command line win over the file; the file wins over defaults.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { ConfigError } from '../../common/errors.ts';

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export type Settings = Record<string, unknown>;

export function loadSettings(file: string | undefined, allowed: readonly string[]): Settings {
  if (!file) return {};
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, 'utf8'), { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(
      e.code === 'ENOENT' ? `settings file ${file} does not exist` : `settings file ${file} is not valid YAML: ${e.message.split('\n')[0]}`,
      'settings-invalid',
      { cause: err },
    );
  }
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`settings file ${file} must be a YAML mapping of flag names to values`, 'settings-invalid');
  const known = new Set(allowed.map(camel));
  const out: Settings = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(doc)) {
    const key = camel(k);
    if (!known.has(key)) unknown.push(k);
    else out[key] = v;
  }
  if (unknown.length > 0) {
    throw new ConfigError(`settings file ${file}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (allowed: ${[...allowed].sort().join(', ')})`, 'settings-invalid');
  }
  return out;
}

/** argv value if the flag was given, else the settings value. */
export function pick<T = unknown>(argv: Record<string, unknown>, settings: Settings, key: string): T | undefined {
  const k = camel(key);
  return (argv[k] ?? settings[k]) as T | undefined;
}

/** `K=V` strings (flags) or a mapping / list (settings) -> record. */
export function keyValues(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
  const list = Array.isArray(v) ? v : [v];
  const out: Record<string, string> = {};
  for (const item of list) {
    const s = String(item);
    const i = s.indexOf('=');
    if (i <= 0) throw new ConfigError(`${what} must be KEY=VALUE, got ${JSON.stringify(s)}`, 'usage-key-value');
    out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}
