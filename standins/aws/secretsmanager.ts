// Secrets Manager (awsJson1.1) for the AWS wire STAND-IN: POST / with x-amz-target secretsmanager.<Op>.
// ClientRequestToken semantics as modelled (and as moto implements them): the token becomes the
// VersionId; the same token with the same value is a no-op, with a different value ResourceExistsException.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  AwsServiceError,
  type HandlerContext,
  type Route,
  type ServiceRequest,
  type ServiceResponse,
} from './server.ts';
import { ACCOUNT_ID, nowSeconds, type Secret, type SecretVersion } from './state.ts';

type Body = Record<string, unknown>;

function parse(req: ServiceRequest): Body {
  if (!req.body) return {};
  try {
    const v = JSON.parse(req.body) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Body;
  } catch {
    // fall through
  }
  throw new AwsServiceError('SerializationException', 400, 'Request body is not a JSON object');
}

const notFound = () =>
  new AwsServiceError('ResourceNotFoundException', 400, "Secrets Manager can't find the specified secret.");

function find(ctx: HandlerContext, id: unknown): Secret {
  if (typeof id !== 'string' || id === '')
    throw new AwsServiceError('InvalidParameterException', 400, 'SecretId is required');
  const s = ctx.state.secrets[id] ?? Object.values(ctx.state.secrets).find((x) => x.arn === id);
  if (!s) throw notFound();
  return s;
}

function live(ctx: HandlerContext, id: unknown): Secret {
  const s = find(ctx, id);
  if (s.deletedDate !== undefined) {
    throw new AwsServiceError(
      'InvalidRequestException',
      400,
      "You can't perform this operation on the secret because it was marked for deletion.",
    );
  }
  return s;
}

function value(b: Body): Pick<SecretVersion, 'secretString' | 'secretBinary'> {
  if (typeof b.SecretString === 'string' && b.SecretBinary !== undefined) {
    throw new AwsServiceError(
      'InvalidParameterException',
      400,
      'You must provide either SecretString or SecretBinary, not both.',
    );
  }
  return typeof b.SecretString === 'string'
    ? { secretString: b.SecretString }
    : typeof b.SecretBinary === 'string'
      ? { secretBinary: b.SecretBinary }
      : {};
}

function tokenOf(b: Body): string {
  const t = b.ClientRequestToken;
  if (t === undefined) return randomUUID();
  if (typeof t !== 'string' || t.length < 32 || t.length > 64) {
    throw new AwsServiceError('InvalidParameterException', 400, 'ClientRequestToken must be 32-64 characters.');
  }
  return t;
}

/** Adds a version as AWSCURRENT (the previous current becomes AWSPREVIOUS). Returns false when the token already exists with the same value. */
function addVersion(
  s: Secret,
  versionId: string,
  v: Pick<SecretVersion, 'secretString' | 'secretBinary'>,
  stages = ['AWSCURRENT'],
): boolean {
  const existing = s.versions.find((x) => x.versionId === versionId);
  if (existing) {
    if (existing.secretString === v.secretString && existing.secretBinary === v.secretBinary) return false;
    throw new AwsServiceError(
      'ResourceExistsException',
      400,
      `A resource with the ID you requested already exists: version ${versionId} has a different value.`,
    );
  }
  if (stages.includes('AWSCURRENT')) {
    for (const x of s.versions) x.stages = x.stages.filter((st) => st !== 'AWSPREVIOUS');
    for (const x of s.versions) {
      if (x.stages.includes('AWSCURRENT')) x.stages = [...x.stages.filter((st) => st !== 'AWSCURRENT'), 'AWSPREVIOUS'];
    }
  }
  s.versions.push({ versionId, ...v, stages: [...stages], createdDate: nowSeconds() });
  s.lastChangedDate = nowSeconds();
  return true;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** CreateSecret (API reference): the ARN is the name followed by six random characters (a hyphen between). */
function arnSuffix(): string {
  return [...randomBytes(6)].map((b) => ALNUM[b % ALNUM.length]).join('');
}

function versionIdsToStages(s: Secret): Record<string, string[]> {
  return Object.fromEntries(s.versions.filter((v) => v.stages.length > 0).map((v) => [v.versionId, v.stages]));
}

const ops: Record<string, (req: ServiceRequest, ctx: HandlerContext) => ServiceResponse> = {
  CreateSecret(req, ctx) {
    const b = parse(req);
    const name = b.Name;
    if (typeof name !== 'string' || !/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      throw new AwsServiceError(
        'InvalidParameterException',
        400,
        'Name must be 1-512 characters of letters, digits and /_+=.@-',
      );
    }
    const token = tokenOf(b);
    const v = value(b);
    const existing = ctx.state.secrets[name];
    if (existing) {
      // A retried CreateSecret (same token, same value) is a no-op; anything else is a conflict.
      const same = existing.versions.find((x) => x.versionId === token);
      if (same && same.secretString === v.secretString && same.secretBinary === v.secretBinary) {
        return { status: 200, body: { ARN: existing.arn, Name: existing.name, VersionId: token } };
      }
      if (existing.deletedDate !== undefined) {
        throw new AwsServiceError(
          'InvalidRequestException',
          400,
          `You can't create this secret because a secret with this name is already scheduled for deletion.`,
        );
      }
      throw new AwsServiceError(
        'ResourceExistsException',
        400,
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const now = nowSeconds();
    const s: Secret = {
      name,
      arn: `arn:aws:secretsmanager:${req.region}:${ACCOUNT_ID}:secret:${name}-${arnSuffix()}`,
      description: typeof b.Description === 'string' ? b.Description : undefined,
      kmsKeyId: typeof b.KmsKeyId === 'string' ? b.KmsKeyId : undefined,
      tags: Array.isArray(b.Tags) ? (b.Tags as { Key: string; Value: string }[]) : [],
      createdDate: now,
      lastChangedDate: now,
      versions: [],
    };
    if (v.secretString !== undefined || v.secretBinary !== undefined) addVersion(s, token, v);
    ctx.state.secrets[name] = s;
    ctx.changed();
    return { status: 200, body: { ARN: s.arn, Name: s.name, ...(s.versions.length ? { VersionId: token } : {}) } };
  },

  GetSecretValue(req, ctx) {
    const b = parse(req);
    const s = live(ctx, b.SecretId);
    let v: SecretVersion | undefined;
    if (typeof b.VersionId === 'string') v = s.versions.find((x) => x.versionId === b.VersionId);
    else
      v = s.versions.find((x) => x.stages.includes(typeof b.VersionStage === 'string' ? b.VersionStage : 'AWSCURRENT'));
    if (!v)
      throw new AwsServiceError(
        'ResourceNotFoundException',
        400,
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
      );
    s.lastAccessedDate = Math.floor(Date.now() / 86400_000) * 86400;
    return {
      status: 200,
      body: {
        ARN: s.arn,
        Name: s.name,
        VersionId: v.versionId,
        ...(v.secretString !== undefined ? { SecretString: v.secretString } : { SecretBinary: v.secretBinary }),
        VersionStages: v.stages,
        CreatedDate: v.createdDate,
      },
    };
  },

  PutSecretValue(req, ctx) {
    const b = parse(req);
    const s = live(ctx, b.SecretId);
    const v = value(b);
    if (v.secretString === undefined && v.secretBinary === undefined) {
      throw new AwsServiceError(
        'InvalidRequestException',
        400,
        'You must provide either SecretString or SecretBinary.',
      );
    }
    const token = tokenOf(b);
    const stages = Array.isArray(b.VersionStages) ? (b.VersionStages as string[]) : ['AWSCURRENT'];
    if (addVersion(s, token, v, stages)) ctx.changed();
    const ver = s.versions.find((x) => x.versionId === token)!;
    return { status: 200, body: { ARN: s.arn, Name: s.name, VersionId: token, VersionStages: ver.stages } };
  },

  DescribeSecret(req, ctx) {
    const b = parse(req);
    const s = find(ctx, b.SecretId);
    return {
      status: 200,
      body: {
        ARN: s.arn,
        Name: s.name,
        ...(s.description !== undefined ? { Description: s.description } : {}),
        ...(s.kmsKeyId !== undefined ? { KmsKeyId: s.kmsKeyId } : {}),
        RotationEnabled: false,
        LastChangedDate: s.lastChangedDate,
        ...(s.lastAccessedDate !== undefined ? { LastAccessedDate: s.lastAccessedDate } : {}),
        ...(s.deletedDate !== undefined ? { DeletedDate: s.deletedDate } : {}),
        Tags: s.tags,
        VersionIdsToStages: versionIdsToStages(s),
        CreatedDate: s.createdDate,
      },
    };
  },

  ListSecrets(req, ctx) {
    // Secrets scheduled for deletion are left out unless IncludePlannedDeletion (API reference, ListSecrets).
    const b = parse(req);
    const all = Object.values(ctx.state.secrets).filter(
      (s) => b.IncludePlannedDeletion === true || s.deletedDate === undefined,
    );
    const max = typeof b.MaxResults === 'number' ? b.MaxResults : 100;
    const start = typeof b.NextToken === 'string' ? Number(b.NextToken) || 0 : 0;
    const list = all.slice(start, start + max).map((s) => ({
      ARN: s.arn,
      Name: s.name,
      ...(s.description !== undefined ? { Description: s.description } : {}),
      LastChangedDate: s.lastChangedDate,
      ...(s.deletedDate !== undefined ? { DeletedDate: s.deletedDate } : {}),
      Tags: s.tags,
      SecretVersionsToStages: versionIdsToStages(s),
      CreatedDate: s.createdDate,
    }));
    return {
      status: 200,
      body: { SecretList: list, ...(start + max < all.length ? { NextToken: String(start + max) } : {}) },
    };
  },

  DeleteSecret(req, ctx) {
    const b = parse(req);
    const s = find(ctx, b.SecretId);
    const now = nowSeconds();
    if (b.ForceDeleteWithoutRecovery === true) delete ctx.state.secrets[s.name];
    else s.deletedDate = now + 30 * 86400;
    ctx.changed();
    return {
      status: 200,
      body: { ARN: s.arn, Name: s.name, DeletionDate: b.ForceDeleteWithoutRecovery === true ? now : s.deletedDate },
    };
  },
};

export function route(op: string): Route | AwsServiceError {
  const handle = ops[op];
  if (!handle)
    return new AwsServiceError(
      'UnknownOperationException',
      400,
      `The stand-in does not implement secretsmanager.${op}`,
    );
  return { service: 'secretsmanager', op, handle };
}
