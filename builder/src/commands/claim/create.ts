// `claim create`: the claim certificate (active, its policies attached), the thing group the clones join, and
// the secret <prefix>/<env>/claims-certificate holding both PEMs. Idempotent: an existing secret is reused.
import {
  AttachPolicyCommand,
  CreateThingGroupCommand,
  DescribeCertificateCommand,
  DescribeThingGroupCommand,
} from '@aws-sdk/client-iot';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { AwsError, ConfigError } from '../../../../common/errors.ts';
import { call, isAwsErrorNamed, makeClients, toAwsError, type Clients } from '../../aws.ts';
import { newCertificate } from '../../claim-certificate.ts';
import {
  DEFAULT_SECRET_PREFIX,
  DEFAULT_THING_GROUP,
  parseClaimSecret,
  readClaimSecret,
  secretName,
} from '../../claim-secret.ts';
import { command } from '../../command.ts';
import type { Context } from '../../context.ts';
import { validateThingGroupName } from '../../fleet/names.ts';
import { CLAIM_OPTIONS } from '../../options.ts';

export interface ClaimCreateOptions {
  env: string;
  policy?: string[];
  thingGroup?: string;
  secretPrefix?: string;
}

export const claimCreateCommand = command({
  command: 'create',
  describe: 'create the claim certificate, attach its policy, create the thing group, store it (idempotent)',
  builder: (y) =>
    y.options(CLAIM_OPTIONS).option('thing-group', {
      type: 'string',
      describe: `thing group to create (default ${DEFAULT_THING_GROUP})`,
    }),
}).runs(claimCreate);

async function ensureThingGroup(c: Clients, ctx: Context, name: string): Promise<string> {
  try {
    const g = await c.iot.send(new CreateThingGroupCommand({ thingGroupName: name }));
    ctx.progress(`thing group ${name} ready`);
    return g.thingGroupArn ?? '';
  } catch (err) {
    if (!isAwsErrorNamed(err, 'ResourceAlreadyExistsException')) throw toAwsError('CreateThingGroup', err);
    const g = await call('DescribeThingGroup', () =>
      c.iot.send(new DescribeThingGroupCommand({ thingGroupName: name })),
    );
    ctx.progress(`thing group ${name} already exists`);
    return g.thingGroupArn ?? '';
  }
}

export async function claimCreate(args: ClaimCreateOptions, ctx: Context): Promise<void> {
  const name = secretName(args.secretPrefix ?? DEFAULT_SECRET_PREFIX, args.env);
  const group = validateThingGroupName(args.thingGroup ?? DEFAULT_THING_GROUP);
  const policies = args.policy ?? [];
  const c = makeClients(ctx);
  const existing = await readClaimSecret(c, name);
  if (existing !== undefined) {
    const { secret, info } = parseClaimSecret(existing.text, name);
    const described = await call('DescribeCertificate', () =>
      c.iot.send(new DescribeCertificateCommand({ certificateId: secret.certificateId })),
    ).catch((err: unknown) => {
      if (err instanceof AwsError && err.reason === 'not-found') {
        throw new ConfigError(
          `secret ${name} names certificate ${secret.certificateId}, which does not exist in IoT: run greengrass-image claim rotate --env ${args.env} --policy <claim policy> ` +
            '(nothing is left to carry the policy over from)',
          'claim-cert-missing',
        );
      }
      throw err;
    });
    const status = described.certificateDescription?.status;
    if (status !== 'ACTIVE') {
      throw new ConfigError(
        `the claim certificate ${secret.certificateId} in secret ${name} is ${status}: run greengrass-image claim rotate --env ${args.env}`,
        'claim-cert-inactive',
      );
    }
    ctx.progress(`secret ${name} exists: reusing certificate ${secret.certificateId} (ACTIVE; secret not overwritten)`);
    for (const p of policies)
      await call(`AttachPolicy ${p}`, () =>
        c.iot.send(new AttachPolicyCommand({ policyName: p, target: secret.certificateArn })),
      );
    const groupArn = await ensureThingGroup(c, ctx, group);
    ctx.result(
      {
        secretName: name,
        reused: true,
        certificateId: secret.certificateId,
        certificateArn: secret.certificateArn,
        notAfter: info.notAfter.toISOString(),
        thingGroup: group,
        thingGroupArn: groupArn,
        policies,
      },
      [`claim certificate ${secret.certificateId} (reused, secret ${name})`, `thing group ${group}`],
    );
    return;
  }
  if (policies.length === 0)
    ctx.progress(
      'warning: no --policy given: the claim certificate gets no IoT policy and cannot provision until one is attached',
    );
  const { cert, undo } = await newCertificate(c, ctx, policies);
  let secretArn: string;
  let groupArn: string;
  try {
    groupArn = await ensureThingGroup(c, ctx, group);
    ctx.progress(`storing the claim in Secrets Manager as ${name}`);
    const s = await call('CreateSecret', () =>
      c.sm.send(
        new CreateSecretCommand({
          Name: name,
          Description: `Greengrass fleet-provisioning claim certificate (${args.env})`,
          SecretString: JSON.stringify(cert),
        }),
      ),
    );
    secretArn = s.ARN ?? '';
  } catch (err) {
    throw await undo(err);
  }
  ctx.result(
    {
      secretName: name,
      secretArn,
      reused: false,
      certificateId: cert.certificateId,
      certificateArn: cert.certificateArn,
      thingGroup: group,
      thingGroupArn: groupArn,
      policies,
    },
    [`claim certificate ${cert.certificateId} created and stored in ${name}`, `thing group ${group}`],
  );
}
