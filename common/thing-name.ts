// AWS IoT thing-name rules and the refusal policy, shared by the agent (which applies them on
// first boot) and the builder (which checks templates and deny lists at bake time).
import { ConfigError } from './errors.ts';

export const THING_NAME_MAX = 128;
const THING_NAME_RE = /^[a-zA-Z0-9:_-]+$/;

/** Names that can never identify one machine. Compared case-insensitively. */
export const BUILTIN_DENY = [
  'localhost',
  'localhost-localdomain',
  'ubuntu',
  'debian',
  'template',
  'none',
  'unknown',
  '(none)',
];

export type ThingNameProblem =
  'empty' | 'too-long' | 'fqdn' | 'invalid-characters' | 'colon' | 'denied' | 'template-hostname';

export class ThingNameError extends ConfigError {
  readonly problem: ThingNameProblem;
  readonly candidate: string;
  constructor(candidate: string, problem: ThingNameProblem, message: string) {
    super(message, `thing-name-${problem}`);
    this.problem = problem;
    this.candidate = candidate;
  }
}

/** Shows a candidate safely in a message: quoted, control characters escaped, truncated. */
export function showName(name: string): string {
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
  return shown;
}

export interface ThingNamePolicy {
  /** Extra names to refuse (e.g. from agent config). Compared case-insensitively. */
  deny?: readonly string[];
  /** The image's hostname, recorded at seal time: a clone still carrying it is not unique. */
  templateHostname?: string | null;
}

/**
 * Validate a candidate ThingName; returns it unchanged or throws ThingNameError.
 * The nucleus installer also rejects ':' in thing names, so it is refused here too.
 */
export function validateThingName(candidate: string, policy: ThingNamePolicy = {}): string {
  if (candidate.length === 0) {
    throw new ThingNameError(
      candidate,
      'empty',
      'ThingName is empty: the hostname (or configured source) gave no value',
    );
  }
  if (candidate.length > THING_NAME_MAX) {
    throw new ThingNameError(
      candidate,
      'too-long',
      `ThingName ${showName(candidate)} is ${candidate.length} characters; AWS IoT allows at most ${THING_NAME_MAX}`,
    );
  }
  if (candidate.includes('.') && THING_NAME_RE.test(candidate.replaceAll('.', ''))) {
    throw new ThingNameError(
      candidate,
      'fqdn',
      `ThingName ${showName(candidate)} looks like an FQDN: dots are not allowed in AWS IoT thing names. Set thingName.fqdn to "short" (use ${showName(candidate.split('.')[0] ?? '')}) or "dashes" in the agent config`,
    );
  }
  if (!THING_NAME_RE.test(candidate)) {
    throw new ThingNameError(
      candidate,
      'invalid-characters',
      `ThingName ${showName(candidate)} has characters AWS IoT does not allow; only [a-zA-Z0-9_-] are accepted`,
    );
  }
  if (candidate.includes(':')) {
    throw new ThingNameError(
      candidate,
      'colon',
      `ThingName ${showName(candidate)} contains ':' which the Greengrass installer rejects`,
    );
  }
  const lower = candidate.toLowerCase();
  const deny = [...BUILTIN_DENY, ...(policy.deny ?? [])].map((d) => d.toLowerCase());
  if (deny.includes(lower)) {
    throw new ThingNameError(
      candidate,
      'denied',
      `ThingName ${showName(candidate)} is on the deny list: it cannot identify a single machine`,
    );
  }
  if (policy.templateHostname && policy.templateHostname.toLowerCase() === lower) {
    throw new ThingNameError(
      candidate,
      'template-hostname',
      `ThingName ${showName(candidate)} is the golden image's own hostname: this clone was not given a hostname of its own, and every such clone would share one Thing`,
    );
  }
  return candidate;
}

/** How to turn an FQDN into a thing name. 'refuse' is the default: never silently. */
export type FqdnMode = 'refuse' | 'short' | 'dashes';

export function applyFqdnMode(name: string, mode: FqdnMode): string {
  if (!name.includes('.')) return name;
  if (mode === 'short') return name.split('.')[0] ?? '';
  if (mode === 'dashes') return name.replaceAll('.', '-');
  return name;
}

/**
 * Render a `{{token}}` template (e.g. "{{hostname}}-{{serial}}") from a value map. Only plain
 * tokens, no sections; an unknown or empty token is an error so a name is never half-built.
 * Tokens allow letters, digits, '.', '_' and '-' (e.g. `{{guestinfo.thing-name}}`).
 */
export function renderTokens(template: string, values: Readonly<Record<string, string | undefined>>): string {
  return template.replace(/\{\{\s*([a-zA-Z0-9_.-]+)\s*\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined || v === '') {
      throw new ConfigError(
        `template ${showName(template)} uses {{${key}}} but no value is available for it`,
        'template-token-missing',
      );
    }
    return v;
  });
}

/** The tokens a template refers to. */
export function templateTokens(template: string): string[] {
  return [...template.matchAll(/\{\{\s*([a-zA-Z0-9_.-]+)\s*\}\}/g)].map((m) => m[1] as string);
}
