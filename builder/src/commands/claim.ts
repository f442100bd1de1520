// `claim create` / `claim rotate`: the fleet-provisioning claim certificate and its secret.
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreateThingGroupCommand,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  DescribeThingGroupCommand,
  DetachPolicyCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { AwsError, CliError, ConfigError, UsageError } from '../../../common/errors.ts';
import { call, isAwsErrorNamed, makeClients, toAwsError, type Clients } from '../aws.ts';
import {
  DEFAULT_SECRET_PREFIX,
  DEFAULT_THING_GROUP,
  parseClaimSecret,
  secretName,
  type ClaimSecret,
} from '../claim-secret.ts';
import type { Context } from '../context.ts';
import { validateThingGroupName } from '../fleet/names.ts';
import { attachedPolicies } from '../fleet/iot-steps.ts';

export interface ClaimArgs {
  env: string;
  policy?: string[];
  thingGroup?: string;
  secretPrefix?: string;
  deactivateOld?: boolean;
}

/** Read the claim secret's current value; undefined when the secret does not exist, `text` undefined for a binary secret. */
export async function readClaimSecret(c: Clients, name: string): Promise<{ text: string | undefined } | undefined> {
  try {
    const out = await c.sm.send(new GetSecretValueCommand({ SecretId: name }));
    return { text: out.SecretString };
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return undefined;
    throw toAwsError('GetSecretValue', err);
  }
}

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

/** A new active certificate with `policies` attached. On a later failure the caller throws `await undo(err)`. */
async function newCertificate(c: Clients, ctx: Context, policies: string[]) {
  ctx.progress('creating a claim certificate (CreateKeysAndCertificate)');
  const out = await call('CreateKeysAndCertificate', () =>
    c.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true })),
  );
  const cert: ClaimSecret = {
    certificatePem: out.certificatePem ?? '',
    privateKey: out.keyPair?.PrivateKey ?? '',
    certificateArn: out.certificateArn ?? '',
    certificateId: out.certificateId ?? '',
  };
  const attached: string[] = [];
  /** Leave nothing half-done: a certificate that never made it into the secret is detached, deactivated and deleted. Returns `err`, telling what is left when a step failed. */
  const undo = async (err: unknown): Promise<unknown> => {
    ctx.progress(`rolling back: deleting the unused certificate ${cert.certificateId}`);
    const failed: string[] = [];
    const step = async (op: string, send: () => Promise<unknown>) => {
      try {
        await send();
      } catch (e) {
        failed.push(toAwsError(op, e).message);
      }
    };
    for (const p of attached)
      await step(`DetachPolicy ${p}`, () =>
        c.iot.send(new DetachPolicyCommand({ policyName: p, target: cert.certificateArn })),
      );
    await step('UpdateCertificate', () =>
      c.iot.send(new UpdateCertificateCommand({ certificateId: cert.certificateId, newStatus: 'INACTIVE' })),
    );
    await step('DeleteCertificate', () =>
      c.iot.send(new DeleteCertificateCommand({ certificateId: cert.certificateId, forceDelete: true })),
    );
    if (failed.length === 0 || !(err instanceof CliError)) return err;
    return new CliError(
      `${err.message}\nrollback incomplete: the unused claim certificate ${cert.certificateId} (${cert.certificateArn}) could not be deleted:\n  - ${failed.join('\n  - ')}\n` +
        `delete it yourself: detach its policies${attached.length ? ` (${attached.join(', ')})` : ''}, set it INACTIVE, then delete it`,
      err.exitCode,
      err.reason,
      { cause: err },
    );
  };
  try {
    for (const p of policies) {
      await call(`AttachPolicy ${p}`, () =>
        c.iot.send(new AttachPolicyCommand({ policyName: p, target: cert.certificateArn })),
      );
      attached.push(p);
      ctx.progress(`attached policy ${p} to ${cert.certificateId}`);
    }
  } catch (err) {
    throw await undo(err);
  }
  return { cert, undo };
}

export async function claimCreate(args: ClaimArgs, ctx: Context): Promise<void> {
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

export async function claimRotate(args: ClaimArgs, ctx: Context): Promise<void> {
  const name = secretName(args.secretPrefix ?? DEFAULT_SECRET_PREFIX, args.env);
  const c = makeClients(ctx);
  const existing = await readClaimSecret(c, name);
  if (existing === undefined)
    throw new AwsError(
      `secret ${name} does not exist: run greengrass-image claim create --env ${args.env} first`,
      'secret-not-found',
    );
  let old: Partial<ClaimSecret> = {};
  let parsed: unknown;
  try {
    parsed = existing.text === undefined ? undefined : JSON.parse(existing.text);
  } catch {
    // not JSON: reported below
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) old = parsed as Partial<ClaimSecret>;
  else
    ctx.progress(
      `the current value of ${name} is ${existing.text === undefined ? 'binary' : 'not a JSON claim document'}; rotating replaces it`,
    );
  let policies = args.policy ?? [];
  if (policies.length === 0) {
    let why = `the current value of ${name} names no certificate`;
    if (old.certificateArn) {
      why = `the previous certificate ${old.certificateId ?? old.certificateArn} has no policy attached`;
      try {
        policies = await attachedPolicies(c, old.certificateArn);
        ctx.progress(`carrying over the old certificate's policies: ${policies.join(', ') || '(none)'}`);
      } catch (err) {
        if (!isAwsErrorNamed(err, 'ResourceNotFoundException')) throw toAwsError('ListAttachedPolicies', err);
        why = `the previous certificate ${old.certificateId ?? old.certificateArn} no longer exists in IoT`;
      }
    }
    // A claim certificate without a policy cannot even connect: every clone baked with it would fail to provision.
    if (policies.length === 0)
      throw new UsageError(`claim rotate: ${why}, so there is no policy to carry over: pass --policy <claim policy>`);
  }
  const { cert, undo } = await newCertificate(c, ctx, policies);
  try {
    ctx.progress(`storing the new claim as the current version of ${name}`);
    await call('PutSecretValue', () =>
      c.sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify(cert) })),
    );
  } catch (err) {
    throw await undo(err);
  }
  let deactivated = false;
  let previousGone = false;
  if (args.deactivateOld && old.certificateId) {
    ctx.progress(`deactivating the old certificate ${old.certificateId}`);
    try {
      await c.iot.send(new UpdateCertificateCommand({ certificateId: old.certificateId, newStatus: 'INACTIVE' }));
    } catch (err) {
      if (!isAwsErrorNamed(err, 'ResourceNotFoundException')) {
        // The rotation itself is done: a second `claim rotate` would rotate again and leave this one ACTIVE, unreferenced.
        const e = toAwsError(`UpdateCertificate ${old.certificateId}`, err);
        throw new AwsError(
          `the new claim certificate ${cert.certificateId} is current in ${name}, but deactivating the previous one failed: ${e.message}. ` +
            `Finish with: aws iot update-certificate --certificate-id ${old.certificateId} --new-status INACTIVE (do not run claim rotate again: it would make another certificate and leave ${old.certificateId} active)`,
          'deactivate-old-failed',
          { cause: err },
        );
      }
      previousGone = true; // deleted by someone already: nothing is left active
    }
    deactivated = !previousGone;
  }
  ctx.result(
    {
      secretName: name,
      certificateId: cert.certificateId,
      certificateArn: cert.certificateArn,
      previousCertificateId: old.certificateId ?? null,
      previousDeactivated: deactivated,
      previousDeleted: previousGone,
      policies,
    },
    [
      `claim certificate ${cert.certificateId} is now current in ${name}`,
      old.certificateId
        ? `previous certificate ${old.certificateId} ${previousGone ? 'no longer exists (nothing to deactivate)' : deactivated ? 'deactivated' : 'left ACTIVE (pass --deactivate-old to deactivate it)'}`
        : 'no previous certificate id recorded',
    ],
  );
}
