// The end state of a backend, read back through the AWS APIs only (never the stand-in's memory), then normalised so
// that two correct backends give equal snapshots. Every normalisation is named in NORMALISATIONS; nothing else is
// changed. Lists are read to the last page (nextToken / nextMarker), so a backend that pages and one that does not
// (moto) give the same result.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import {
  DescribeCertificateCommand,
  DescribeThingCommand,
  ListAttachedPoliciesCommand,
  ListCertificatesCommand,
  ListPoliciesCommand,
  ListThingGroupsCommand,
  ListThingGroupsForThingCommand,
  ListThingPrincipalsCommand,
  ListThingsCommand,
  ListThingsInThingGroupCommand,
} from '@aws-sdk/client-iot';
import { DescribeSecretCommand, GetSecretValueCommand, ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import type { Backend } from './backends.ts';

/** What legitimately differs between two correct backends, and what each snapshot does about it. */
export const NORMALISATIONS = {
  certificateIds:
    'certificate ids and ARNs: each backend issues its own key pair, so ids differ; a certificate is named by what ' +
    'holds it (the things it is attached to, else the secret version that stores it, else its rank by creation)',
  generatedIds: 'thingId, thingGroupId, secret VersionIds: random per backend; left out (versions kept as stage lists)',
  timestamps: 'creation and modification dates: left out',
  secretArnSuffix: 'a secret ARN ends in -<6 random characters> (Secrets Manager adds them); replaced by -XXXXXX',
  keyMaterial:
    'certificate PEM and private key: compared as "the stored key matches the stored certificate" and ' +
    '"the PEM is the one IoT holds"',
  endpointHostnames:
    'DescribeEndpoint answers an account-specific prefix (<prefix>-ats.iot.<region>.amazonaws.com); ' +
    'the prefix is replaced by <prefix>',
} as const;

export interface Snapshot {
  things: Record<string, Thing>;
  certificates: Record<string, { status: string; policies: string[] }>;
  thingGroups: Record<string, { thingGroupArn: string; members: string[] }>;
  policies: string[];
  secrets: Record<string, { arn: string; versions: string[][]; current: Claim; previous?: Claim }>;
}

interface Thing {
  thingArn: string;
  attributes: Record<string, string>;
  principals: string[];
  groups: string[];
}

/** A claim secret's value as compared, or what is wrong with it. */
type Claim = SecretClaim | string;

interface SecretClaim {
  fields: string[];
  certificateId: string;
  certificateArn: string;
  pemIsIotCertificate: boolean;
  keyMatchesCertificate: boolean;
}

async function pages<T>(first: (token?: string) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const r = await first(token);
    out.push(...r.items);
    token = r.next;
  } while (token);
  return out;
}

const sorted = (xs: string[]) => [...xs].sort();

async function claimOf(b: Backend, text: string | undefined, pems: Map<string, string>): Promise<Claim> {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text ?? '') as Record<string, unknown>;
  } catch {
    return `not JSON: ${String(text).slice(0, 40)}`;
  }
  const id = String(v.certificateId ?? '');
  let iotPem = pems.get(id);
  if (iotPem === undefined && id) {
    iotPem = await b.iot.send(new DescribeCertificateCommand({ certificateId: id })).then(
      (d) => d.certificateDescription?.certificatePem ?? '',
      () => '',
    );
  }
  let keyMatches: boolean;
  try {
    keyMatches = new X509Certificate(String(v.certificatePem)).checkPrivateKey(createPrivateKey(String(v.privateKey)));
  } catch {
    keyMatches = false;
  }
  return {
    fields: sorted(Object.keys(v)),
    certificateId: id,
    certificateArn: String(v.certificateArn ?? ''),
    pemIsIotCertificate: !!iotPem && iotPem.trim() === String(v.certificatePem).trim(),
    keyMatchesCertificate: keyMatches,
  };
}

/** The raw state through the APIs (certificate ids still in). */
async function read(b: Backend): Promise<{ snap: Snapshot; certs: { id: string; arn: string; created: number }[] }> {
  const { iot, sm } = b;
  const thingNames = await pages(async (t) => {
    const r = await iot.send(new ListThingsCommand({ nextToken: t }));
    return { items: (r.things ?? []).map((x) => x.thingName ?? ''), next: r.nextToken };
  });
  const snap: Snapshot = { things: {}, certificates: {}, thingGroups: {}, policies: [], secrets: {} };
  for (const name of thingNames) {
    const d = await iot.send(new DescribeThingCommand({ thingName: name }));
    const principals = await pages(async (t) => {
      const r = await iot.send(new ListThingPrincipalsCommand({ thingName: name, nextToken: t }));
      return { items: r.principals ?? [], next: r.nextToken };
    });
    const groups = await pages(async (t) => {
      const r = await iot.send(new ListThingGroupsForThingCommand({ thingName: name, nextToken: t }));
      return { items: (r.thingGroups ?? []).map((g) => g.groupName ?? ''), next: r.nextToken };
    });
    const thingArn = d.thingArn ?? '';
    const attributes = d.attributes ?? {};
    snap.things[name] = { thingArn, attributes, principals: sorted(principals), groups: sorted(groups) };
  }
  const certs = await pages(async (m) => {
    const r = await iot.send(new ListCertificatesCommand({ marker: m }));
    const items = (r.certificates ?? []).map((c) => ({
      id: c.certificateId ?? '',
      arn: c.certificateArn ?? '',
      status: c.status ?? '',
      created: Number(c.creationDate ?? 0),
    }));
    return { items, next: r.nextMarker };
  });
  for (const c of certs) {
    const policies = await pages(async (m) => {
      const r = await iot.send(new ListAttachedPoliciesCommand({ target: c.arn, marker: m }));
      return { items: (r.policies ?? []).map((p) => p.policyName ?? ''), next: r.nextMarker };
    });
    snap.certificates[c.id] = { status: c.status, policies: sorted(policies) };
  }
  const groups = await pages(async (t) => {
    const r = await iot.send(new ListThingGroupsCommand({ nextToken: t }));
    return { items: r.thingGroups ?? [], next: r.nextToken };
  });
  for (const g of groups) {
    const members = await pages(async (t) => {
      const r = await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: g.groupName, nextToken: t }));
      return { items: r.things ?? [], next: r.nextToken };
    });
    snap.thingGroups[g.groupName ?? ''] = { thingGroupArn: g.groupArn ?? '', members: sorted(members) };
  }
  snap.policies = sorted(
    await pages(async (m) => {
      const r = await iot.send(new ListPoliciesCommand({ marker: m }));
      return { items: (r.policies ?? []).map((p) => p.policyName ?? ''), next: r.nextMarker };
    }),
  );
  const secrets = await pages(async (t) => {
    const r = await sm.send(new ListSecretsCommand({ NextToken: t }));
    return { items: (r.SecretList ?? []).map((s) => s.Name ?? ''), next: r.NextToken };
  });
  const pems = new Map<string, string>();
  for (const name of secrets) {
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    const versions = Object.values(d.VersionIdsToStages ?? {})
      .map((st) => sorted(st))
      .filter((st) => st.length > 0);
    const value = async (stage: string) =>
      (await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: stage }))).SecretString;
    const hasPrevious = versions.some((v) => v.includes('AWSPREVIOUS'));
    snap.secrets[name] = {
      arn: d.ARN ?? '',
      versions: versions.sort((a, b) => a.join().localeCompare(b.join())),
      current: await claimOf(b, await value('AWSCURRENT'), pems),
      ...(hasPrevious ? { previous: await claimOf(b, await value('AWSPREVIOUS'), pems) } : {}),
    };
  }
  return { snap, certs };
}

/** A name for each certificate id that does not depend on the backend (NORMALISATIONS.certificateIds). */
function certificateLabels(snap: Snapshot, certs: { id: string; created: number }[]): Map<string, string> {
  const labels = new Map<string, string>();
  for (const [thing, t] of Object.entries(snap.things)) {
    for (const p of t.principals) {
      const id = p.split('/').pop() ?? '';
      labels.set(id, labels.has(id) ? `${labels.get(id)}+${thing}` : `cert-of-thing:${thing}`);
    }
  }
  for (const [name, s] of Object.entries(snap.secrets)) {
    for (const [stage, claim] of [
      ['current', s.current],
      ['previous', s.previous],
    ] as const) {
      if (claim && typeof claim === 'object' && !labels.has(claim.certificateId)) {
        labels.set(claim.certificateId, `cert-in-secret:${name}:${stage}`);
      }
    }
  }
  let n = 0;
  for (const c of [...certs].sort((a, b) => a.created - b.created)) {
    if (!labels.has(c.id)) labels.set(c.id, `unreferenced-cert:${++n}`);
  }
  return labels;
}

/** The normalised end state of `b`. */
export async function snapshot(b: Backend): Promise<Snapshot> {
  const { snap, certs } = await read(b);
  let text = JSON.stringify(snap);
  for (const [id, label] of certificateLabels(snap, certs)) text = text.split(id).join(`<${label}>`);
  text = text.replace(/(:secret:[^"]*?)-[A-Za-z0-9]{6}"/g, '$1-XXXXXX"');
  return JSON.parse(text) as Snapshot;
}

/** NORMALISATIONS.endpointHostnames on any text. */
export function normaliseEndpoints(text: string): string {
  const host = /\b[a-z0-9]{1,32}((-ats)?\.iot|\.credentials\.iot|\.jobs\.iot)\.([a-z0-9-]+)\.amazonaws\.com\b/g;
  return text.replace(host, '<prefix>$1.$3.amazonaws.com');
}
