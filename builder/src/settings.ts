// --settings FILE: a YAML mapping with the same keys as the command's flags (kebab-case or
// camelCase). Flags given on the command line win over the file; the file wins over defaults.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import yaml from 'js-yaml';
import { ConfigError } from '../../common/errors.ts';

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export type Settings = Record<string, unknown>;

/** What a settings value must be: as the flag's yargs type (`strings`: one or a list), or KEY=VALUE pairs (a list or a mapping). */
export type SettingKind = 'string' | 'number' | 'boolean' | 'strings' | 'key-values';
export type SettingKinds = Record<string, SettingKind>;

/** The kinds of yargs option definitions (string arrays become `strings`). */
export function settingKinds(options: Record<string, { type: string; array?: boolean }>): SettingKinds {
  return Object.fromEntries(
    Object.entries(options).map(([k, o]) => [k, o.array ? 'strings' : (o.type as SettingKind)]),
  );
}

const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
const KIND_OK: Record<SettingKind, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number',
  boolean: (v) => typeof v === 'boolean',
  strings: (v) => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')),
  'key-values': (v) =>
    typeof v === 'string' ||
    (Array.isArray(v) && v.every((x) => typeof x === 'string')) ||
    (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(scalar)),
};
const KIND_TEXT: Record<SettingKind, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  strings: 'a string or a list of strings',
  'key-values': 'KEY=VALUE strings or a mapping',
};

export function loadSettings(file: string | undefined, kinds: SettingKinds): Settings {
  const allowed = Object.keys(kinds);
  if (!file) return {};
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, 'utf8'), { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(
      e.code === 'ENOENT'
        ? `settings file ${file} does not exist`
        : `settings file ${file} is not valid YAML: ${e.message.split('\n')[0]}`,
      'settings-invalid',
      { cause: err },
    );
  }
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`settings file ${file} must be a YAML mapping of flag names to values`, 'settings-invalid');
  const known = new Map(Object.entries(kinds).map(([k, kind]) => [camel(k), kind]));
  const out: Settings = {};
  const unknown: string[] = [];
  const wrong: string[] = [];
  for (const [k, v] of Object.entries(doc)) {
    const key = camel(k);
    const kind = known.get(key);
    if (!kind) unknown.push(k);
    else if (v !== null && !KIND_OK[kind](v)) wrong.push(`${k} must be ${KIND_TEXT[kind]}, got ${JSON.stringify(v)}`);
    else if (v !== null) out[key] = v;
  }
  if (unknown.length > 0) {
    throw new ConfigError(
      `settings file ${file}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (allowed: ${[...allowed].sort().join(', ')})`,
      'settings-invalid',
    );
  }
  if (wrong.length > 0) throw new ConfigError(`settings file ${file}: ${wrong.join('; ')}`, 'settings-invalid');
  return out;
}

/** argv value if the flag was given, else the settings value. */
export function pick<T = unknown>(argv: object, settings: Settings, key: string): T | undefined {
  const k = camel(key);
  return ((argv as Record<string, unknown>)[k] ?? settings[k]) as T | undefined;
}

/** A `strings` value (a flag or setting that may be one string or several) as a list: empty when not given. */
export function pickList(argv: object, settings: Settings, key: string): string[] {
  const v = pick<string | string[]>(argv, settings, key);
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** A file a flag names, as an absolute path; a config error (exit 3) when it is not there. */
export function fileOrFail(p: string, what: string): string {
  const abs = resolve(p);
  if (!existsSync(abs) || !statSync(abs).isFile())
    throw new ConfigError(`${what} ${abs} does not exist`, 'file-missing');
  return abs;
}

/** The files a `strings` flag or setting names (`--var-file`), each checked to be there. */
export function pickFiles(argv: object, settings: Settings, key: string): string[] {
  return pickList(argv, settings, key).map((f) => fileOrFail(f, `--${key}`));
}

/** `K=V` strings (flags) or a mapping / list (settings) -> record. */
export function keyValues(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v === 'object' && !Array.isArray(v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
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
