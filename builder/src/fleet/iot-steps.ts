// IoT steps shared by `cores` and `devices`: idempotent building blocks (each can be re-run), and
// the per-thing credentials folder that makes a batch resumable.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  AddThingToThingGroupCommand,
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreatePolicyCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  GetPolicyCommand,
  ListAttachedPoliciesCommand,
  ListThingGroupsForThingCommand,
  ListThingPrincipalsCommand,
  RemoveThingFromThingGroupCommand,
  UpdateCertificateCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { writeFileAtomicAsync } from '../../../common/atomic-write.ts';
import { ConfigError } from '../../../common/errors.ts';
import { parseCertificate } from '../../../common/pem.ts';
import { call, isAwsErrorNamed, toAwsError } from '../aws.ts';
import type { Clients } from '../aws.ts';
import { deleteOwnPolicyStep, ownPolicies, RECORDED_POLICY } from './core-policy.ts';

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

export async function endpoint(c: Clients, type: 'iot:Data-ATS' | 'iot:CredentialProvider'): Promise<string> {
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

export async function thingGroups(c: Clients, thing: string): Promise<string[]> {
  const out: string[] = [];
  let nextToken: string | undefined;
  do {
    const r = await call(`ListThingGroupsForThing ${thing}`, () =>
      c.iot.send(new ListThingGroupsForThingCommand({ thingName: thing, nextToken })),
    );
    out.push(...(r.thingGroups ?? []).map((g) => g.groupName ?? '').filter(Boolean));
    nextToken = r.nextToken;
  } while (nextToken);
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

/** One step of a decommission plan: a description (dry run) and the idempotent action. */
export interface Step {
  describe: string;
  run(): Promise<unknown>;
}

/** Thing attribute listing the certificate ids being decommissioned (so a re-run finds them after they are detached). */
export const DECOMMISSION_ATTRIBUTE = 'greengrass-image-decommission';

/**
 * Steps that remove a thing and everything attached to it, in the only order IoT accepts: record the
 * certificate ids (and, with `ownPolicy`, the core's own policies) on the thing, so a re-run after a failure
 * finds what is already detached from it; then per certificate detach its policies, detach it from the thing,
 * deactivate it, delete it; delete the core's own policy unless it is shared (core-policy.ts); leave each
 * group; delete the thing. Each step tolerates "already gone".
 */
export async function thingRemovalSteps(
  c: Clients,
  thing: string,
  opts: { ownPolicy?: boolean } = {},
): Promise<Step[]> {
  let desc;
  try {
    desc = await c.iot.send(new DescribeThingCommand({ thingName: thing }));
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return [];
    throw toAwsError(`DescribeThing ${thing}`, err);
  }
  const principals = (await thingPrincipals(c, thing)) ?? [];
  const certPrefix = (desc.thingArn ?? '').replace(/:thing\/.*$/, ':cert/');
  const entries = (desc.attributes?.[DECOMMISSION_ATTRIBUTE] ?? '').split(',').filter(Boolean);
  const recorded = entries.filter((e) => !e.startsWith(RECORDED_POLICY));
  const recordedPolicies = entries
    .filter((e) => e.startsWith(RECORDED_POLICY))
    .map((e) => e.slice(RECORDED_POLICY.length));
  const ids = [...new Set([...principals.map(certIdFromArn), ...recorded])];
  const certs: { id: string; arn: string; policies: string[] }[] = [];
  for (const id of ids) {
    const arn = principals.find((p) => certIdFromArn(p) === id) ?? `${certPrefix}${id}`;
    let policies: string[] = [];
    try {
      policies = await attachedPolicies(c, arn);
    } catch (err) {
      if (!isAwsErrorNamed(err, 'ResourceNotFoundException')) throw toAwsError('ListAttachedPolicies', err);
      if (!principals.includes(arn)) continue; // recorded earlier and already deleted
    }
    certs.push({ id, arn, policies });
  }
  const ourCerts = certs.map((x) => x.arn);
  const own = opts.ownPolicy
    ? await ownPolicies(
        c,
        thing,
        desc.thingArn ?? '',
        certs.flatMap((x) => x.policies),
        recordedPolicies,
        ourCerts,
      )
    : [];
  const toDelete = own.filter((p) => p.others.length === 0).map((p) => p.name);
  const steps: Step[] = [];
  const record = [...ids, ...toDelete.filter(recordable).map((n) => `${RECORDED_POLICY}${n}`)];
  if (record.some((e) => !entries.includes(e))) {
    const attributePayload = { attributes: { [DECOMMISSION_ATTRIBUTE]: record.join(',') }, merge: true };
    const policies = toDelete.length ? ` and policy ${toDelete.join(', ')}` : '';
    steps.push({
      describe:
        `record certificate(s) ${ids.join(', ') || '(none)'}${policies} on thing ${thing} ` +
        `(attribute ${DECOMMISSION_ATTRIBUTE}, for a resumed run)`,
      run: () =>
        ignoreNotFound('UpdateThing', () => c.iot.send(new UpdateThingCommand({ thingName: thing, attributePayload }))),
    });
  }
  for (const { id, arn, policies } of certs) {
    for (const p of policies) {
      steps.push({
        describe: `detach policy ${p} from certificate ${id}`,
        run: () =>
          ignoreNotFound(`DetachPolicy ${p}`, () =>
            c.iot.send(new DetachPolicyCommand({ policyName: p, target: arn })),
          ),
      });
    }
    if (principals.includes(arn)) {
      steps.push({
        describe: `detach certificate ${id} from thing ${thing}`,
        run: () =>
          ignoreNotFound('DetachThingPrincipal', () =>
            c.iot.send(new DetachThingPrincipalCommand({ thingName: thing, principal: arn })),
          ),
      });
    }
    steps.push({
      describe: `deactivate certificate ${id}`,
      run: () =>
        ignoreNotFound('UpdateCertificate', () =>
          c.iot.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'INACTIVE' })),
        ),
    });
    steps.push({ describe: `delete certificate ${id}`, run: () => deleteCertificateAfterDetach(c, id) });
  }
  for (const name of toDelete) steps.push(deleteOwnPolicyStep(c, thing, name, ourCerts));
  for (const g of await thingGroups(c, thing)) {
    steps.push({
      describe: `remove thing ${thing} from thing group ${g}`,
      run: () =>
        ignoreNotFound('RemoveThingFromThingGroup', () =>
          c.iot.send(new RemoveThingFromThingGroupCommand({ thingName: thing, thingGroupName: g })),
        ),
    });
  }
  steps.push({
    describe: `delete thing ${thing}`,
    run: () => ignoreNotFound('DeleteThing', () => c.iot.send(new DeleteThingCommand({ thingName: thing }))),
  });
  return steps;
}

/** A policy name that fits a thing attribute value (no ',' or '+'); others are found again by name or document. */
const recordable = (name: string) => /^[A-Za-z0-9_.@=:-]+$/.test(name);

/**
 * Seconds between DeleteCertificate attempts while IoT still reports the certificate attached: DetachThingPrincipal
 * "is asynchronous; it might take several seconds for the detachment to propagate" (API reference), and until then
 * DeleteCertificate answers DeleteConflictException (409), which the SDK does not retry. About 30 s in all.
 */
export const DELETE_CONFLICT_RETRY_SECONDS = [1, 2, 4, 8, 8, 8];

async function deleteCertificateAfterDetach(c: Clients, id: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await c.iot.send(new DeleteCertificateCommand({ certificateId: id }));
      return;
    } catch (err) {
      if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return;
      const wait = DELETE_CONFLICT_RETRY_SECONDS[attempt];
      if (!isAwsErrorNamed(err, 'DeleteConflictException') || wait === undefined)
        throw toAwsError(`DeleteCertificate ${id}`, err);
      await new Promise((r) => setTimeout(r, wait * 1000));
    }
  }
}

export async function ignoreNotFound<T>(op: string, send: () => Promise<T>): Promise<T | undefined> {
  try {
    return await send();
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return undefined;
    throw toAwsError(op, err);
  }
}
