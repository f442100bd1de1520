// IoT steps shared by `cores` and `devices`: idempotent building blocks (each can be re-run), and
// the per-thing credentials folder that makes a batch resumable. Taking a thing apart: thing-removal.ts.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  AddThingToThingGroupCommand,
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreatePolicyCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingGroupCommand,
  GetPolicyCommand,
  ListAttachedPoliciesCommand,
  ListThingPrincipalsCommand,
} from '@aws-sdk/client-iot';
import { writeFileAtomicAsync } from '../../../common/atomic-write.ts';
import { ConfigError } from '../../../common/errors.ts';
import { parseCertificate } from '../../../common/pem.ts';
import { call, isAwsErrorNamed, toAwsError } from '../aws.ts';
import type { Clients } from '../aws.ts';

/** Name of a manual core's own policy: readable while it fits IoT's 128 characters, else hashed. */
export function corePolicyName(thing: string): string {
  const name = `GreengrassCorePolicy-${thing}`;
  return name.length <= 128 ? name : `GreengrassCorePolicy-${createHash('sha256').update(thing).digest('hex')}`;
}

/**
 * The core's own policy with the stack's document for it (cloudformation/template.ts stackIotPolicies),
 * created when missing; one that exists with another document is refused rather than silently kept.
 */
export async function ensureCorePolicy(c: Clients, thing: string, document: object): Promise<string> {
  const name = corePolicyName(thing);
  const text = JSON.stringify(document);
  try {
    await c.iot.send(new CreatePolicyCommand({ policyName: name, policyDocument: text }));
    return name;
  } catch (err) {
    if (!isAwsErrorNamed(err, 'ResourceAlreadyExistsException')) throw toAwsError(`CreatePolicy ${name}`, err);
  }
  const have = await call(`GetPolicy ${name}`, () => c.iot.send(new GetPolicyCommand({ policyName: name })));
  let same: boolean;
  try {
    same = JSON.stringify(JSON.parse(have.policyDocument ?? '')) === text;
  } catch {
    same = false;
  }
  if (!same) {
    throw new ConfigError(
      `IoT policy ${name} exists with another document than the stack gives core ${thing}: delete it, or pass --policy`,
      'core-policy-conflict',
    );
  }
  return name;
}

/** The thing group's ARN; created when missing (same as `claim create` does). */
export async function ensureThingGroup(c: Clients, name: string, create = true): Promise<string> {
  try {
    const g = await c.iot.send(new DescribeThingGroupCommand({ thingGroupName: name }));
    return g.thingGroupArn ?? '';
  } catch (err) {
    if (!isAwsErrorNamed(err, 'ResourceNotFoundException')) throw toAwsError('DescribeThingGroup', err);
    if (!create) throw new ConfigError(`thing group ${name} does not exist`, 'thing-group-missing');
  }
  try {
    return (await c.iot.send(new CreateThingGroupCommand({ thingGroupName: name }))).thingGroupArn ?? '';
  } catch (err) {
    if (!isAwsErrorNamed(err, 'ResourceAlreadyExistsException')) throw toAwsError('CreateThingGroup', err);
    return (
      (await call('DescribeThingGroup', () => c.iot.send(new DescribeThingGroupCommand({ thingGroupName: name }))))
        .thingGroupArn ?? ''
    );
  }
}

/** The device policy must already exist (the CloudFormation stack creates it). */
export async function requirePolicy(c: Clients, name: string): Promise<void> {
  try {
    await c.iot.send(new GetPolicyCommand({ policyName: name }));
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) {
      throw new ConfigError(
        `IoT policy ${name} does not exist: deploy cloudformation/greengrass-fleet.yaml or pass --policy`,
        'policy-missing',
        { cause: err },
      );
    }
    throw toAwsError('GetPolicy', err);
  }
}

export type EndpointType = 'iot:Data-ATS' | 'iot:CredentialProvider';

export async function endpoint(c: Clients, type: EndpointType): Promise<string> {
  const out = await call(`DescribeEndpoint ${type}`, () =>
    c.iot.send(new DescribeEndpointCommand({ endpointType: type })),
  );
  return out.endpointAddress ?? '';
}

export async function createThing(c: Clients, name: string): Promise<void> {
  try {
    await c.iot.send(new CreateThingCommand({ thingName: name }));
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceAlreadyExistsException')) {
      throw new ConfigError(
        `thing ${name} already exists with different attributes; it was not made by this tool (pick other names or delete it)`,
        'thing-conflict',
        { cause: err },
      );
    }
    throw toAwsError(`CreateThing ${name}`, err);
  }
}

export async function addToGroup(c: Clients, thing: string, group: string): Promise<void> {
  await call(`AddThingToThingGroup ${thing}`, () =>
    c.iot.send(new AddThingToThingGroupCommand({ thingName: thing, thingGroupName: group })),
  );
}

/** What `certs/certificate.json` records (no key material). */
export interface CertificateRecord {
  thingName: string;
  certificateId: string;
  certificateArn: string;
}

export const CERT_FILE = 'device.pem.crt';
export const KEY_FILE = 'private.pem.key';
export const CERT_RECORD = 'certificate.json';

/** The id IoT gives the certificate in a local PEM file: the SHA-256 of its DER. */
function localCertificateId(path: string, thing: string): string {
  return createHash('sha256')
    .update(parseCertificate(readFileSync(path, 'utf8'), `${thing} ${CERT_FILE}`).raw)
    .digest('hex');
}

/**
 * The thing's certificate: reused from `<dir>/certs` when a previous run already wrote it (resume),
 * else a new active one from CreateKeysAndCertificate, written at once (0600, atomic) so a crash
 * after this point never loses the key of a certificate that exists in IoT. The record is written
 * after key and certificate; a run cut off before it rebuilds it from the certificate instead of
 * making a second one.
 */
export async function ensureCertificate(
  c: Clients,
  thing: string,
  dir: string,
): Promise<{ record: CertificateRecord; created: boolean }> {
  const certs = join(dir, 'certs');
  const rec = join(certs, CERT_RECORD);
  // Temp files of atomic writes cut off by a crash.
  for (const f of existsSync(certs) ? readdirSync(certs) : [])
    if (/^\..*\.tmp$/.test(f)) rmSync(join(certs, f), { force: true });
  const haveCert = existsSync(join(certs, CERT_FILE)) && existsSync(join(certs, KEY_FILE));
  if (haveCert && existsSync(rec)) {
    return { record: JSON.parse(readFileSync(rec, 'utf8')) as CertificateRecord, created: false };
  }
  if (haveCert) {
    const certificateId = localCertificateId(join(certs, CERT_FILE), thing);
    try {
      const d = await c.iot.send(new DescribeCertificateCommand({ certificateId }));
      const record: CertificateRecord = {
        thingName: thing,
        certificateId,
        certificateArn: d.certificateDescription?.certificateArn ?? '',
      };
      await writeFileAtomicAsync(rec, `${JSON.stringify(record, null, 2)}\n`, 0o600);
      return { record, created: false };
    } catch (err) {
      if (!isAwsErrorNamed(err, 'ResourceNotFoundException')) throw toAwsError(`DescribeCertificate ${thing}`, err);
    }
  }
  const out = await call(`CreateKeysAndCertificate ${thing}`, () =>
    c.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true })),
  );
  const record: CertificateRecord = {
    thingName: thing,
    certificateId: out.certificateId ?? '',
    certificateArn: out.certificateArn ?? '',
  };
  await Promise.all([
    writeFileAtomicAsync(join(certs, KEY_FILE), out.keyPair?.PrivateKey ?? '', 0o600),
    writeFileAtomicAsync(join(certs, CERT_FILE), out.certificatePem ?? '', 0o600),
  ]);
  await writeFileAtomicAsync(rec, `${JSON.stringify(record, null, 2)}\n`, 0o600);
  return { record, created: true };
}

/**
 * CreateThing succeeds for a Thing that exists with the same (empty) attributes, which a fleet-provisioned core has:
 * a certificate attached to it that this run did not make (`<dir>/certs`) means the name is another machine's identity.
 * A second certificate would give two machines one thing name, and IoT disconnects one whenever the other connects.
 */
export async function refuseThingInUse(c: Clients, thing: string, dir: string): Promise<void> {
  const principals = (await thingPrincipals(c, thing)) ?? [];
  const certPath = join(dir, 'certs', CERT_FILE);
  const ours = existsSync(certPath) ? localCertificateId(certPath, thing) : null;
  const foreign = principals.filter((p) => certIdFromArn(p) !== ours);
  if (foreign.length > 0) {
    throw new ConfigError(
      `thing ${thing} already has certificate(s) ${foreign.map(certIdFromArn).join(', ')} attached that ${dir} does not hold: it is another machine's identity; pick another name, or decommission it first (cores delete ${thing} --deprovision)`,
      'thing-in-use',
    );
  }
}

/** A thing's output dir (`<out>/<name>/certs`, 0700) and the Thing itself, refused if it is another machine's. */
export async function prepareThing(c: Clients, out: string, name: string): Promise<string> {
  const dir = join(out, name);
  mkdirSync(join(dir, 'certs'), { recursive: true, mode: 0o700 });
  await createThing(c, name);
  await refuseThingInUse(c, name, dir);
  return dir;
}

export async function attachCertificate(c: Clients, thing: string, policy: string, certArn: string): Promise<void> {
  await call(`AttachPolicy ${policy} ${thing}`, () =>
    c.iot.send(new AttachPolicyCommand({ policyName: policy, target: certArn })),
  );
  await call(`AttachThingPrincipal ${thing}`, () =>
    c.iot.send(new AttachThingPrincipalCommand({ thingName: thing, principal: certArn })),
  );
}

/** A thing's principals, or null when the thing does not exist. */
export async function thingPrincipals(c: Clients, thing: string): Promise<string[] | null> {
  const out: string[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const r = await c.iot.send(new ListThingPrincipalsCommand({ thingName: thing, nextToken }));
      out.push(...(r.principals ?? []));
      nextToken = r.nextToken;
    } while (nextToken);
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return null;
    throw toAwsError(`ListThingPrincipals ${thing}`, err);
  }
  return out;
}

export const certIdFromArn = (arn: string) => arn.split('/').pop() ?? '';

/** Every policy attached to a certificate, all pages (throws the SDK's error, e.g. ResourceNotFoundException). */
export async function attachedPolicies(c: Clients, target: string): Promise<string[]> {
  const out: string[] = [];
  let marker: string | undefined;
  do {
    const r = await c.iot.send(new ListAttachedPoliciesCommand({ target, marker }));
    out.push(...(r.policies ?? []).map((p) => p.policyName ?? '').filter(Boolean));
    marker = r.nextMarker;
  } while (marker);
  return out;
}
