// A new claim certificate for `claim create` and `claim rotate`: created active in IoT with its policies
// attached, and an `undo` that removes it again when it could not be stored, so nothing is left half-done.
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  DeleteCertificateCommand,
  DetachPolicyCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { CliError } from '../../common/errors.ts';
import { call, toAwsError, type Clients } from './aws.ts';
import type { ClaimSecret } from './claim-secret.ts';
import type { Context } from './context.ts';

/** A new active certificate with `policies` attached. On a later failure the caller throws `await undo(err)`. */
export async function newCertificate(c: Clients, ctx: Context, policies: string[]) {
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
