// What `build` and `validate` check before an image is baked, so that no clone of it fails its first boot
// on something the builder could see (facts and sources: docs/facts/installer-config.md):
// - the provisioning template's thing group exists (RegisterThing fails otherwise);
// - the claim certificate exists, is ACTIVE and has a policy (without one the claim cannot even connect);
// - the plugin jar has the FleetProvisioningByClaim layout (the nucleus loads the class its manifest's
//   GG-Plugin-Class names; a file that only matches a checksum is not enough).
import { DescribeCertificateCommand, DescribeThingGroupCommand } from '@aws-sdk/client-iot';
import { ConfigError } from '../../common/errors.ts';
import { call, isAwsErrorNamed, toAwsError, type Clients } from './aws.ts';
import type { ClaimSecret } from './claim-secret.ts';
import { attachedPolicies } from './fleet/iot-steps.ts';
import { manifestAttributes, readZip } from './jar.ts';

export const PLUGIN_CLASS = 'com.aws.greengrass.FleetProvisioningByClaimPlugin';
const CLASS_MAGIC = 0xcafebabe;

/** Problems with the plugin jar (empty = it has the plugin's layout). */
export function pluginJarProblems(path: string): string[] {
  const zip = readZip(path);
  if (!zip) return [`${path} is not a jar (no zip central directory)`];
  const manifest = zip.read('META-INF/MANIFEST.MF');
  if (!manifest) return [`${path} has no META-INF/MANIFEST.MF`];
  const named = manifestAttributes(manifest.toString('utf8'))['GG-Plugin-Class'];
  if (named !== PLUGIN_CLASS) {
    const shown = named === undefined ? '(none)' : JSON.stringify(named);
    return [`${path}: its manifest names GG-Plugin-Class ${shown}, not ${PLUGIN_CLASS}`];
  }
  const entry = `${PLUGIN_CLASS.replace(/\./g, '/')}.class`;
  const cls = zip.read(entry);
  if (!cls || cls.length < 4 || cls.readUInt32BE(0) !== CLASS_MAGIC) return [`${path} has no class file ${entry}`];
  return [];
}

export function assertPluginJar(path: string): void {
  const problems = pluginJarProblems(path);
  if (problems.length > 0) {
    throw new ConfigError(
      `the plugin ${problems[0]}: pass the FleetProvisioningByClaim jar ` +
        '(fleetprovisioningbyclaim-<version>.jar from the Greengrass releases) as --plugin-source',
      'plugin-invalid',
    );
  }
}

/** The thing group the provisioning template puts each core in must exist, or RegisterThing fails. */
export async function assertThingGroupExists(c: Clients, group: string, env: string | undefined): Promise<void> {
  try {
    await c.iot.send(new DescribeThingGroupCommand({ thingGroupName: group }));
  } catch (err) {
    if (!isAwsErrorNamed(err, 'ResourceNotFoundException')) throw toAwsError('DescribeThingGroup', err);
    throw new ConfigError(
      `thing group ${group} does not exist: every clone's RegisterThing would fail. ` +
        `Create it (greengrass-image claim create --env ${env ?? '<env>'} --thing-group ${group}, ` +
        `or aws iot create-thing-group --thing-group-name ${group}) or pass the existing group as --thing-group`,
      'thing-group-missing',
    );
  }
}

/** The claim certificate must exist in IoT, be ACTIVE and have at least one policy attached. */
export async function assertClaimProvisionable(
  c: Clients,
  secret: ClaimSecret,
  secretName: string,
  env: string,
): Promise<string[]> {
  const describe = () => c.iot.send(new DescribeCertificateCommand({ certificateId: secret.certificateId }));
  const described = await call('DescribeCertificate', describe).catch((err: unknown) => {
    if (isAwsErrorNamed((err as { cause?: unknown }).cause, 'ResourceNotFoundException')) {
      throw new ConfigError(
        `the claim certificate ${secret.certificateId} in secret ${secretName} does not exist in IoT: ` +
          'no clone could provision. ' +
          `Make a new one: greengrass-image claim rotate --env ${env} --policy <claim policy>`,
        'claim-cert-missing',
      );
    }
    throw err;
  });
  const status = described.certificateDescription?.status;
  if (status !== 'ACTIVE') {
    throw new ConfigError(
      `the claim certificate ${secret.certificateId} in secret ${secretName} is ${status}: no clone could provision. ` +
        `Make a new one: greengrass-image claim rotate --env ${env} --policy <claim policy>`,
      'claim-cert-inactive',
    );
  }
  let policies: string[];
  try {
    policies = await attachedPolicies(c, secret.certificateArn);
  } catch (err) {
    throw toAwsError('ListAttachedPolicies', err);
  }
  if (policies.length === 0) {
    throw new ConfigError(
      `the claim certificate ${secret.certificateId} in secret ${secretName} has no IoT policy: ` +
        'no clone could connect to provision. ' +
        `Attach the claim policy: greengrass-image claim create --env ${env} --policy <claim policy>`,
      'claim-cert-no-policy',
    );
  }
  return policies;
}
