// How the nucleus reads a YAML file: Jackson's YAML parser gives every plain (unquoted) scalar the type
// SnakeYAML's YAML 1.1 resolver picks, so `123_456`, `0x1F`, `1e3`, `yes`, `off`, `null` and `~` are numbers,
// booleans or null there, while a YAML 1.2 reader (js-yaml) takes some of them for strings. Quoted scalars
// are strings for both. This schema reads text the way the nucleus does, so the product can check that what
// it writes means the same to both (facts and sources: docs/facts/installer-config.md).
import yaml from 'js-yaml';

// The resolver only tries a pattern when the scalar starts with one of its first characters.
const FIRST = { bool: 'yYnNtTfFoO', int: '-+0123456789', float: '-+0123456789.', null: '~nN' };
const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const alt = (...parts: string[]) => new RegExp(`^(?:${parts.join('|')})$`);
const INT = alt(
  '[-+]?0b[0-1_]+',
  '[-+]?0[0-7_]+',
  '[-+]?(?:0|[1-9][0-9_]*)',
  '[-+]?0x[0-9a-fA-F_]+',
  '[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+',
);
const FLOAT = alt(
  '[-+]?(?:\\.[0-9]+|[0-9_]+(?:\\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?',
  '[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*',
  '[-+]?\\.(?:inf|Inf|INF)',
  '\\.(?:nan|NaN|NAN)',
);
const NULL = /^(?:~|null|Null|NULL)$/;

const starts = (s: string, chars: string) => s.length > 0 && chars.includes(s[0]);

/** Jackson decodes an int-looking scalar itself: base prefixes and `_` are understood, base 60 is left a string. */
function int11(s: string): number | string {
  if (s.includes(':')) return s;
  const neg = s.startsWith('-');
  const body = s.replace(/^[-+]/, '').replace(/_/g, '');
  let n: number;
  if (/^0[bB]/.test(body)) n = parseInt(body.slice(2), 2);
  else if (/^0[xX]/.test(body)) n = parseInt(body.slice(2), 16);
  else if (body.length > 1 && body.startsWith('0')) n = parseInt(body, 8);
  else n = parseInt(body, 10);
  return neg ? -n : n;
}

function float11(s: string): number {
  const t = s.replace(/_/g, '');
  if (/\.(?:inf|Inf|INF)$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/\.(?:nan|NaN|NAN)$/.test(t)) return NaN;
  return Number(t);
}

const types = [
  new yaml.Type('tag:yaml.org,2002:null', {
    kind: 'scalar',
    resolve: (s: string | null) => s === null || s === '' || (starts(s, FIRST.null) && NULL.test(s)),
    construct: () => null,
  }),
  new yaml.Type('tag:yaml.org,2002:bool', {
    kind: 'scalar',
    resolve: (s: string | null) => s !== null && starts(s, FIRST.bool) && BOOL.test(s),
    construct: (s: string) => TRUE.test(s),
  }),
  new yaml.Type('tag:yaml.org,2002:int', {
    kind: 'scalar',
    resolve: (s: string | null) => s !== null && starts(s, FIRST.int) && INT.test(s),
    construct: int11,
  }),
  new yaml.Type('tag:yaml.org,2002:float', {
    kind: 'scalar',
    resolve: (s: string | null) => s !== null && starts(s, FIRST.float) && FLOAT.test(s),
    construct: float11,
  }),
];

/** YAML 1.1 plain-scalar typing as the nucleus's Jackson reader applies it (timestamps stay strings there). */
export const YAML11_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({ implicit: types });

/** Parse `text` as the nucleus would. */
export function loadAsNucleus(text: string): unknown {
  return yaml.load(text, { schema: YAML11_SCHEMA });
}

/**
 * Paths (a.b.c) whose value the nucleus reads differently from `expected` (the document as meant),
 * e.g. `services.x.configuration.templateParameters.ThingName: "123_456" is read as 123456`.
 */
export function nucleusReadingDifferences(expected: unknown, text: string): string[] {
  const out: string[] = [];
  const walk = (want: unknown, got: unknown, path: string) => {
    if (want !== null && typeof want === 'object') {
      if (got === null || typeof got !== 'object') {
        out.push(`${path || '(document)'} is read as ${JSON.stringify(got)}`);
        return;
      }
      const g = got as Record<string, unknown>;
      for (const [k, v] of Object.entries(want)) walk(v, g[k], path ? `${path}.${k}` : k);
      return;
    }
    if (!Object.is(want, got)) out.push(`${path}: ${JSON.stringify(want)} is read as ${JSON.stringify(got)}`);
  };
  walk(expected, loadAsNucleus(text), '');
  return out;
}
