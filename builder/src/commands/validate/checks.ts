// validate: the checks that are not Packer's. The provisioning template's parameters (cloudformation/) against
// the config's templateParameters; with --env the claim and thing group in AWS, with --plugin-source the plugin
// jar's layout (bake-checks.ts): what `build` refuses to bake.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fleetConfigStackProblems, provisioningTemplateParameters } from '../../../../cloudformation/template.ts';
import { ConfigError, IntegrityError } from '../../../../common/errors.ts';
import { fleetConfig, type InstallerConfigDocument } from '../../../../common/installer-config.ts';
import { makeClients } from '../../aws.ts';
import { assertClaimProvisionable, assertPluginJar, assertThingGroupExists, PLUGIN_CLASS } from '../../bake-checks.ts';
import { DEFAULT_SECRET_PREFIX, parseClaimSecret, readClaimSecret, secretName } from '../../claim-secret.ts';
import type { Context } from '../../context.ts';
import { templateParameters, withSettingsRegion } from '../../installer-settings.ts';
import { pick, type Settings } from '../../settings.ts';
import type { ValidateOptions } from './index.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** A check that passes, or fails with the ConfigError's message (what to do); other errors propagate. */
export async function asCheck(name: string, run: () => Promise<string>): Promise<Check> {
  try {
    return { name, ok: true, detail: await run() };
  } catch (err) {
    if (!(err instanceof ConfigError || err instanceof IntegrityError)) throw err;
    return { name, ok: false, detail: err.message };
  }
}

export async function cfnProblems(doc: InstallerConfigDocument): Promise<Check> {
  const problems = fleetConfigStackProblems(fleetConfig(doc));
  return {
    name: 'provisioning template parameters',
    ok: problems.length === 0,
    detail:
      problems.length === 0
        ? `config sends exactly ${provisioningTemplateParameters().join(', ')}`
        : problems.join('; '),
  };
}

/**
 * With --env: the claim in Secrets Manager and IoT and the thing group the config names (AWS calls).
 * With --plugin-source (a local jar): the plugin's layout. What `build` refuses to bake.
 */
export async function bakeChecks(
  argv: ValidateOptions,
  settings: Settings,
  ctx: Context,
  doc: InstallerConfigDocument | undefined,
): Promise<Check[]> {
  const out: Check[] = [];
  const env = pick<string>(argv, settings, 'env');
  if (env) {
    const name = secretName(pick<string>(argv, settings, 'secret-prefix') ?? DEFAULT_SECRET_PREFIX, env);
    const c = makeClients(withSettingsRegion(ctx, settings));
    out.push(
      await asCheck(`claim certificate (${name})`, async () => {
        const raw = await readClaimSecret(c, name);
        if (raw === undefined)
          throw new ConfigError(
            `secret ${name} not found: run greengrass-image claim create --env ${env} --policy <claim policy>`,
            'secret-not-found',
          );
        const { secret } = parseClaimSecret(raw.text, name);
        const policies = await assertClaimProvisionable(c, secret, name, env);
        return `${secret.certificateId} ACTIVE, policy ${policies.join(', ')}`;
      }),
    );
    const group = doc
      ? String(fleetConfig(doc).templateParameters?.ThingGroupName ?? '')
      : templateParameters(argv, settings).ThingGroupName;
    if (group) {
      out.push(
        await asCheck(`thing group ${group}`, async () => {
          await assertThingGroupExists(c, group, env);
          return 'exists';
        }),
      );
    }
  }
  const plugin = pick<string>(argv, settings, 'plugin-source');
  if (plugin) {
    const path = resolve(plugin);
    out.push(
      await asCheck(`plugin jar ${path}`, async () => {
        if (!existsSync(path)) throw new ConfigError(`--plugin-source ${path} does not exist`, 'artifact-missing');
        assertPluginJar(path);
        return `manifest GG-Plugin-Class ${PLUGIN_CLASS}, class present`;
      }),
    );
  }
  return out;
}
