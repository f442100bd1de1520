// What other AWS services write into the account that the AWS stand-in serves. On AWS, fleet provisioning's
// RegisterThing runs the provisioning template against the same IoT registry that the control-plane API reads,
// and Greengrass creates a core device record when a nucleus first reports its status over MQTT. Offline, the
// provisioning stand-in plays both MQTT-side services in another process and reports here, so the builder's
// fleet commands and the pre-provisioning hook see the Things and cores the clones made.
import { nowSeconds, ACCOUNT_ID, type CoreDevice, type StandinState } from './state.ts';
import { withThings } from './iot-fleet.ts';
import { randomUUID } from 'node:crypto';

/** The registry changes of one accepted RegisterThing with the stack's template. */
export interface ProvisionedThing {
  thingName: string;
  certificateId: string;
  certificatePem: string;
  thingGroups: string[];
  /** A policy the template attaches to the certificate (by name; created from the document if it is new). */
  policyName?: string;
  policyDocument?: string;
}

/** Greengrass's record of a core's reported status (the nucleus's fleet status message). */
export interface CoreStatusReport {
  thingName: string;
  status: CoreDevice['status'];
  coreVersion?: string;
  platform?: string;
  architecture?: string;
}

const arn = (region: string, kind: string, name: string) => `arn:aws:iot:${region}:${ACCOUNT_ID}:${kind}/${name}`;

/**
 * Applies a registration as the stack's template does: the Thing is created, or kept with its attributes and
 * groups replaced (OverrideSettings REPLACE); the certificate is ACTIVE and attached to it, next to any
 * certificate already attached (so two machines registering one name both hold it, as on AWS).
 */
export function recordProvisioning(state: StandinState, p: ProvisionedThing): void {
  const region = state.region;
  const s = withThings(state);
  const now = nowSeconds();
  const certArn = arn(region, 'cert', p.certificateId);
  const cert = s.certificates[p.certificateId];
  if (cert) {
    cert.status = 'ACTIVE';
    cert.lastModifiedDate = now;
  } else {
    s.certificates[p.certificateId] = {
      certificateId: p.certificateId,
      certificateArn: certArn,
      certificatePem: p.certificatePem,
      status: 'ACTIVE',
      creationDate: now,
      lastModifiedDate: now,
      policies: [],
    };
  }
  const thing = (s.things[p.thingName] ??= {
    thingName: p.thingName,
    thingArn: arn(region, 'thing', p.thingName),
    thingId: randomUUID(),
    attributes: {},
    version: 1,
    principals: [],
    creationDate: now,
  });
  thing.attributes = {};
  if (!thing.principals.includes(certArn)) thing.principals.push(certArn);
  for (const g of Object.values(s.thingGroups)) {
    const member = g.things.includes(p.thingName);
    const wanted = p.thingGroups.includes(g.thingGroupName);
    if (wanted && !member) g.things.push(p.thingName);
    if (!wanted && member) g.things = g.things.filter((n) => n !== p.thingName);
  }
  if (p.policyName) {
    if (!s.policies[p.policyName] && p.policyDocument) {
      s.policies[p.policyName] = {
        policyName: p.policyName,
        policyArn: arn(region, 'policy', p.policyName),
        policyDocument: p.policyDocument,
        defaultVersionId: '1',
        creationDate: now,
        lastModifiedDate: now,
      };
    }
    const c = s.certificates[p.certificateId]!;
    if (!c.policies.includes(p.policyName)) c.policies.push(p.policyName);
  }
}

/** Creates or updates the core device record, as Greengrass does when a nucleus reports its status. */
export function recordCoreStatus(state: StandinState, r: CoreStatusReport): void {
  const prev = state.coreDevices[r.thingName];
  state.coreDevices[r.thingName] = {
    ...prev,
    coreDeviceThingName: r.thingName,
    status: r.status,
    lastStatusUpdateTimestamp: nowSeconds(),
    ...(r.coreVersion ? { coreVersion: r.coreVersion } : {}),
    ...(r.platform ? { platform: r.platform } : {}),
    ...(r.architecture ? { architecture: r.architecture } : {}),
  };
}

const NAME = /^[a-zA-Z0-9:_-]{1,128}$/;

function field(j: Record<string, unknown>, k: string, re?: RegExp): string {
  const v = j[k];
  if (typeof v !== 'string' || v === '' || (re && !re.test(v)))
    throw new Error(`${k} must be a ${re ? 'valid name' : 'non-empty string'}`);
  return v;
}

/** A control request body as a ProvisionedThing (the stand-in answers 400 with the message otherwise). */
export function provisionedThing(j: Record<string, unknown>): ProvisionedThing {
  const groups = j.thingGroups ?? [];
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string' || !NAME.test(g)))
    throw new Error('thingGroups must be a list of names');
  return {
    thingName: field(j, 'thingName', NAME),
    certificateId: field(j, 'certificateId', /^[0-9a-f]{64}$/),
    certificatePem: field(j, 'certificatePem'),
    thingGroups: groups as string[],
    ...(typeof j.policyName === 'string' ? { policyName: j.policyName } : {}),
    ...(typeof j.policyDocument === 'string' ? { policyDocument: j.policyDocument } : {}),
  };
}

export function coreStatusReport(j: Record<string, unknown>): CoreStatusReport {
  const status = j.status ?? 'HEALTHY';
  if (status !== 'HEALTHY' && status !== 'UNHEALTHY') throw new Error('status must be HEALTHY or UNHEALTHY');
  const opt = (k: string) => (typeof j[k] === 'string' ? { [k]: j[k] as string } : {});
  return {
    thingName: field(j, 'thingName', NAME),
    status,
    ...opt('coreVersion'),
    ...opt('platform'),
    ...opt('architecture'),
  };
}
