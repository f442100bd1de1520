// The one rule for an identity the nucleus already recorded under another name, shared by `run` (which refuses)
// and `check` (which must exit as run would).
import { ConfigError } from '../../common/errors.ts';
import type { AgentConfig } from './agent-config.ts';

/**
 * `found` says when the name was seen: `before` this run installed anything (the machine already held an identity,
 * typically an image captured after it provisioned: every clone would share it) or `after` provisioning (the
 * template renamed the Thing). The advice differs: accepting the other name is right only in the second case.
 */
export function acceptRecordedName(
  cfg: AgentConfig,
  recorded: string,
  resolved: string,
  found: 'before' | 'after',
): void {
  if (recorded === resolved || cfg.verify.acceptOtherThingName) return;
  const what = `the nucleus recorded ThingName ${JSON.stringify(recorded)}, not ${JSON.stringify(resolved)}`;
  const kept = 'Claim kept, no sentinel written';
  if (found === 'before') {
    throw new ConfigError(
      `${what} before this machine provisioned: it carries another machine's identity (an image captured after it provisioned?). ${kept}. ` +
        'On the template, run `greengrass-firstboot seal --remove-identity` and capture the image again; only if this machine ' +
        `really is ${JSON.stringify(recorded)}, set verify.acceptOtherThingName: true in the agent config`,
      'thing-name-mismatch',
    );
  }
  throw new ConfigError(
    `${what}: the provisioning template renames things. ${kept}; set verify.acceptOtherThingName: true in the agent config to keep ${JSON.stringify(recorded)}`,
    'thing-name-mismatch',
  );
}
