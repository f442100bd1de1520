// In-memory state of the AWS wire STAND-IN (Secrets Manager, IoT, Greengrass v2), shared by the
// per-service routers. Plain JSON so the CLI mode can persist it to a file (0600: it holds secret
// values) and reload it on the next start.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../common/atomic-write.ts';

export const ACCOUNT_ID = '123456789012';

export interface SecretVersion {
  versionId: string;
  secretString?: string;
  secretBinary?: string; // base64
  stages: string[];
  createdDate: number; // epoch seconds
}

export interface Secret {
  name: string;
  arn: string;
  description?: string;
  kmsKeyId?: string;
  tags: { Key: string; Value: string }[];
  createdDate: number;
  lastChangedDate: number;
  lastAccessedDate?: number;
  deletedDate?: number;
  versions: SecretVersion[];
}

export type CertificateStatus =
  'ACTIVE' | 'INACTIVE' | 'REVOKED' | 'PENDING_TRANSFER' | 'PENDING_ACTIVATION' | 'REGISTER_INACTIVE';

export interface Certificate {
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
  status: CertificateStatus;
  creationDate: number;
  lastModifiedDate: number;
  /** Names of policies attached to this certificate. The private key is never kept (as in real IoT). */
  policies: string[];
}

export interface Policy {
  policyName: string;
  policyArn: string;
  policyDocument: string;
  defaultVersionId: string;
  creationDate: number;
  lastModifiedDate: number;
  /** Every version, the default one included (absent: only version 1 with policyDocument, as CreatePolicy makes). */
  versions?: PolicyVersion[];
}

export interface PolicyVersion {
  versionId: string;
  policyDocument: string;
  createDate: number;
}

export interface ThingGroup {
  thingGroupName: string;
  thingGroupArn: string;
  thingGroupId: string;
  version: number;
  parentGroupName?: string;
  thingGroupProperties: Record<string, unknown>;
  creationDate: number;
  things: string[];
}

export interface ProvisioningTemplate {
  templateName: string;
  templateArn: string;
  templateBody: string;
  provisioningRoleArn: string;
  enabled: boolean;
  defaultVersionId: number;
  creationDate: number;
}

/** Greengrass v2 core device (filled by the Greengrass v2 router / later pipeline steps). */
export interface CoreDevice {
  coreDeviceThingName: string;
  status: 'HEALTHY' | 'UNHEALTHY';
  lastStatusUpdateTimestamp: number;
  coreVersion?: string;
  platform?: string;
  architecture?: string;
  thingGroups?: string[];
}

export interface StandinState {
  /** Region used in ARNs when a request's signature does not name one; the region `endpoints` belong to. */
  region: string;
  /** DescribeEndpoint answers for `region`, by endpoint type (configurable: the offline pipeline's 10.0.2.2). */
  endpoints: Record<string, string>;
  secrets: Record<string, Secret>;
  certificates: Record<string, Certificate>;
  policies: Record<string, Policy>;
  thingGroups: Record<string, ThingGroup>;
  provisioningTemplates: Record<string, ProvisioningTemplate>;
  coreDevices: Record<string, CoreDevice>;
}

export interface EndpointOptions {
  iotDataEndpoint?: string;
  iotCredEndpoint?: string;
  region?: string;
}

/**
 * The endpoints AWS would give this account in `region`: one stable, account-specific prefix per region and endpoint
 * kind (DescribeEndpoint API reference: "a unique endpoint specific to the AWS account making the call").
 */
export function accountEndpoints(region: string): Record<string, string> {
  const prefix = (kind: string) => {
    const hex = createHash('sha256').update(`${ACCOUNT_ID}/${region}/${kind}`).digest('hex').slice(0, 24);
    return BigInt(`0x${hex}`).toString(36).slice(0, 14).padStart(14, '0');
  };
  const data = prefix('data');
  return {
    'iot:Data-ATS': `${data}-ats.iot.${region}.amazonaws.com`,
    'iot:Data': `${data}.iot.${region}.amazonaws.com`,
    'iot:CredentialProvider': `${prefix('credentials')}.credentials.iot.${region}.amazonaws.com`,
    'iot:Jobs': `${prefix('jobs')}.jobs.iot.${region}.amazonaws.com`,
  };
}

/** DescribeEndpoint's answers for a request signed for `region` (derived, so stable across restarts too). */
export function endpointsFor(state: StandinState, region: string): Record<string, string> {
  return region === state.region ? state.endpoints : accountEndpoints(region);
}

export function emptyState(o: EndpointOptions = {}): StandinState {
  const region = o.region ?? 'us-east-1';
  const derived = accountEndpoints(region);
  const data = o.iotDataEndpoint ?? derived['iot:Data-ATS']!;
  return {
    region,
    endpoints: {
      ...derived,
      'iot:Data-ATS': data,
      'iot:Data': o.iotDataEndpoint ? data.replace(/-ats\./, '.') : derived['iot:Data']!,
      'iot:CredentialProvider': o.iotCredEndpoint ?? derived['iot:CredentialProvider']!,
    },
    secrets: {},
    certificates: {},
    policies: {},
    thingGroups: {},
    provisioningTemplates: {},
    coreDevices: {},
  };
}

export function loadState(file: string, o: EndpointOptions = {}): StandinState {
  const fresh = emptyState(o);
  if (!existsSync(file)) return fresh;
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<StandinState>;
  const state: StandinState = { ...fresh, ...saved, endpoints: { ...fresh.endpoints, ...(saved.endpoints ?? {}) } };
  // Endpoint flags given on this start win over the saved ones.
  if (o.iotDataEndpoint) state.endpoints['iot:Data-ATS'] = o.iotDataEndpoint;
  if (o.iotCredEndpoint) state.endpoints['iot:CredentialProvider'] = o.iotCredEndpoint;
  return state;
}

/** Persist (atomic, 0600: secret values inside). */
export function saveState(file: string, state: StandinState): void {
  writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000) + (Date.now() % 1000) / 1000;
