// `claim rotate`: a new claim certificate becomes the secret's current version; the old one's policies carry
// over unless --policy is given, and --deactivate-old sets the old certificate INACTIVE.
import { UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { AwsError, UsageError } from '../../../../common/errors.ts';
import { call, isAwsErrorNamed, makeClients, toAwsError } from '../../aws.ts';
import { newCertificate } from '../../claim-certificate.ts';
import { DEFAULT_SECRET_PREFIX, readClaimSecret, secretName, type ClaimSecret } from '../../claim-secret.ts';
import { command } from '../../command.ts';
import type { Context } from '../../context.ts';
import { attachedPolicies } from '../../fleet/iot-steps.ts';
import { CLAIM_OPTIONS } from '../../options.ts';

export interface ClaimRotateOptions {
  env: string;
  policy?: string[];
  secretPrefix?: string;
  deactivateOld: boolean;
}

export const claimRotateCommand = command({
  command: 'rotate',
  describe: 'make a new claim certificate and store it as the current secret version',
  builder: (y) =>
    y.options(CLAIM_OPTIONS).option('deactivate-old', {
      type: 'boolean',
      default: false,
      describe: 'deactivate the previous certificate',
    }),
}).runs(claimRotate);

export async function claimRotate(args: ClaimRotateOptions, ctx: Context): Promise<void> {
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
