// Names the fleet commands take from the operator, checked before any AWS call: thing-group names
// (IoT: 1-128 of [a-zA-Z0-9:_-]; Greengrass refuses ':' in targets; no non-ASCII) and core /
// device thing names (common/thing-name.ts rules, the same ones the agent applies on first boot).
import { UsageError } from '../../../common/errors.ts';
import { showName, validateThingName } from '../../../common/thing-name.ts';

export const THING_GROUP_MAX = 128;

/** Returns `name` or throws a UsageError saying exactly what is wrong. */
export function validateThingGroupName(name: string, flag = '--thing-group'): string {
  if (name.length === 0) throw new UsageError(`${flag} is empty`);
  if (name.length > THING_GROUP_MAX)
    throw new UsageError(
      `${flag} ${showName(name)} is ${name.length} characters; thing group names are at most ${THING_GROUP_MAX}`,
    );
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(name))
    throw new UsageError(
      `${flag} ${showName(name)} has non-ASCII characters; thing group names allow only [a-zA-Z0-9_-]`,
    );
  if (name.includes(':'))
    throw new UsageError(
      `${flag} ${showName(name)} contains ':'; Greengrass deployments cannot target a thing group whose name has a colon`,
    );
  if (!/^[a-zA-Z0-9_-]+$/.test(name))
    throw new UsageError(`${flag} ${showName(name)} has characters thing group names do not allow; only [a-zA-Z0-9_-]`);
  return name;
}

/** Thing names for a batch: `--names a,b,c` or `--count N --prefix P` (P001..PN, zero-padded, stable across runs). */
export function batchNames(
  o: { names?: string | string[]; count?: number; prefix?: string; start?: number },
  what = 'core',
): string[] {
  const given =
    o.names === undefined
      ? undefined
      : (Array.isArray(o.names) ? o.names : [o.names])
          .flatMap((n) => String(n).split(','))
          .map((n) => n.trim())
          .filter((n) => n !== '');
  if (given && o.count !== undefined) throw new UsageError('give either --names or --count with --prefix, not both');
  let names: string[];
  if (given) {
    if (given.length === 0) throw new UsageError('--names is empty');
    names = given;
  } else {
    if (o.count === undefined)
      throw new UsageError(
        `give the ${what} names as arguments (a b c)${what === 'core' ? ', --names a,b,c or --count N --prefix P' : ''}`,
      );
    if (!Number.isInteger(o.count) || o.count < 1 || o.count > 100_000)
      throw new UsageError(`--count must be a whole number from 1 to 100000, got ${JSON.stringify(o.count)}`);
    if (!o.prefix) throw new UsageError('--count needs --prefix (names are <prefix><number>)');
    const start = o.start ?? 1;
    if (!Number.isInteger(start) || start < 0)
      throw new UsageError(`--start must be a whole number >= 0, got ${o.start}`);
    const width = Math.max(3, String(start + o.count - 1).length);
    names = Array.from({ length: o.count }, (_, i) => `${o.prefix}${String(start + i).padStart(width, '0')}`);
  }
  const seen = new Set<string>();
  for (const n of names) {
    try {
      validateThingName(n);
    } catch (err) {
      throw new UsageError(`${what} name refused: ${(err as Error).message}`);
    }
    if (seen.has(n)) throw new UsageError(`${what} name ${showName(n)} is given twice`);
    seen.add(n);
  }
  return names;
}

/** One thing name (positional argument), same rules. */
export function singleName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name === '') throw new UsageError(`${what} name is required`);
  try {
    return validateThingName(name);
  } catch (err) {
    throw new UsageError(`${what} name refused: ${(err as Error).message}`);
  }
}

/** A flag that takes one value: yargs makes an array of a repeated one. */
export function oneValue(v: unknown, flag: string): string {
  if (Array.isArray(v)) throw new UsageError(`${flag} is given ${v.length} times; give it once`);
  if (typeof v !== 'string') throw new UsageError(`${flag} needs a value`);
  return v;
}
