// The claim secret: `<prefix>/<env>/claims-certificate` in Secrets Manager, a JSON document
// {certificatePem, privateKey, certificateArn, certificateId}. Parsing never echoes key material.
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { ConfigError, IntegrityError, UsageError, CliError } from '../../common/errors.ts';
import { assertKeyMatchesCertificate, type CertificateInfo } from '../../common/pem.ts';
import { isAwsErrorNamed, toAwsError, type Clients } from './aws.ts';

export const DEFAULT_SECRET_PREFIX = 'greengrass';
/** Thing group the claim create makes and the config's templateParameters.ThingGroupName names by default. */
export const DEFAULT_THING_GROUP = 'GreengrassGoldenImageCores';

export interface ClaimSecret {
  certificatePem: string;
  privateKey: string;
  certificateArn: string;
  certificateId: string;
}

const ENV_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const PREFIX_RE = /^[A-Za-z0-9_+=.@-]+(\/[A-Za-z0-9_+=.@-]+)*$/;

export function secretName(prefix: string, env: string): string {
  if (!ENV_RE.test(env)) throw new UsageError(`--env ${JSON.stringify(env)} must be 1-64 letters, digits, '-' or '_'`);
  if (!PREFIX_RE.test(prefix))
    throw new UsageError(
      `--secret-prefix ${JSON.stringify(prefix)} must be '/'-separated names of letters, digits and _+=.@-`,
    );
  return `${prefix}/${env}/claims-certificate`;
}

/** Parse and check a claim secret: JSON shape, PEMs parse, key matches certificate. */
export function parseClaimSecret(
  text: string | undefined,
  name: string,
): { secret: ClaimSecret; info: CertificateInfo } {
  if (text === undefined)
    throw new ConfigError(
      `secret ${name} has no SecretString (binary secrets are not claim secrets)`,
      'claim-secret-invalid',
    );
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    const legacy = text.includes('|') && text.includes('-----BEGIN');
    throw new ConfigError(
      legacy
        ? `secret ${name} is in the old "cert|key" format; store it as JSON {certificatePem, privateKey, certificateArn, certificateId} (greengrass-image claim rotate)`
        : `secret ${name} is not JSON; expected {certificatePem, privateKey, certificateArn, certificateId}`,
      'claim-secret-invalid',
    );
  }
  const d = (doc ?? {}) as Record<string, unknown>;
  const missing = ['certificatePem', 'privateKey', 'certificateArn', 'certificateId'].filter(
    (k) => typeof d[k] !== 'string' || d[k] === '',
  );
  if (missing.length > 0)
    throw new ConfigError(`secret ${name} is missing ${missing.join(', ')}`, 'claim-secret-invalid');
  const secret = d as unknown as ClaimSecret;
  let info: CertificateInfo;
  try {
    info = assertKeyMatchesCertificate(secret.certificatePem, secret.privateKey, `claim (secret ${name})`);
  } catch (err) {
    if (err instanceof CliError && err.reason === 'key-cert-mismatch')
      throw new IntegrityError(err.message, 'key-cert-mismatch', { cause: err });
    throw err;
  }
  if (info.notAfter < new Date())
    throw new ConfigError(
      `claim certificate in secret ${name} expired on ${info.notAfter.toISOString()}; run greengrass-image claim rotate`,
      'claim-expired',
    );
  return { secret, info };
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
