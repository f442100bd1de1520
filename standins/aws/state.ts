// In-memory state of the AWS wire STAND-IN (Secrets Manager, IoT, Greengrass v2), shared by the
// per-service routers. Plain JSON so the CLI mode can persist it to a file (0600: it holds secret
// values) and reload it on the next start.
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

export type CertificateStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED' | 'PENDING_TRANSFER' | 'PENDING_ACTIVATION' | 'REGISTER_INACTIVE';

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
  /** Region used in ARNs when a request's signature does not name one. */
  region: string;
  /** DescribeEndpoint answers, by endpoint type. Stable across calls (unlike moto). */
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

export function emptyState(o: EndpointOptions = {}): StandinState {
  const region = o.region ?? 'us-east-1';
  const data = o.iotDataEndpoint ?? `a1b2c3d4e5f6g7-ats.iot.${region}.amazonaws.com`;
  return {
    region,
    endpoints: {
      'iot:Data-ATS': data,
      'iot:Data': data.replace(/-ats\./, '.'),
      'iot:CredentialProvider': o.iotCredEndpoint ?? `c1b2c3d4e5f6g7.credentials.iot.${region}.amazonaws.com`,
      'iot:Jobs': `j1b2c3d4e5f6g7.jobs.iot.${region}.amazonaws.com`,
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
