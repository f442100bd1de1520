// IoT policy lifecycle operations (restJson1) for the AWS wire STAND-IN: what decommissioning a core's own
// policy needs (docs/facts/iot-policy-lifecycle.md). Paths, query names and shapes from @aws-sdk/client-iot's
// schema (DeletePolicy$, ListTargetsForPolicy$, ...):
//   DeletePolicy          DELETE /policies/{name}                     -> 200, empty
//   ListTargetsForPolicy  POST   /policy-targets/{name}  marker / pageSize -> {targets[], nextMarker}
//   ListPolicyVersions    GET    /policies/{name}/version
//                                  -> {policyVersions[{versionId, isDefaultVersion, createDate}]}
//   CreatePolicyVersion   POST   /policies/{name}/version?setAsDefault
//                                  -> {policyArn, policyDocument, policyVersionId, isDefaultVersion}
//   DeletePolicyVersion   DELETE /policies/{name}/version/{id}         -> 200, empty
// Errors as the API reference lists them: a missing policy or version 404 ResourceNotFoundException; DeletePolicy
// of a policy attached to a target, or with versions besides the default, 409 DeleteConflictException; a sixth
// version 409 VersionsLimitExceededException. DeletePolicyVersion of the default version: the reference only says it
// cannot be done; the stand-in answers 400 InvalidRequestException as moto does.
import {
  AwsServiceError,
  jsonBody,
  type HandlerContext,
  type Route,
  type ServiceRequest,
  type ServiceResponse,
} from './server.ts';
import { nowSeconds, type Policy, type PolicyVersion } from './state.ts';
import { page } from './iot-fleet.ts';

type Handler = (req: ServiceRequest, ctx: HandlerContext, params: string[]) => ServiceResponse;

/** AWS keeps at most five versions of a policy (CreatePolicyVersion, API reference). */
const MAX_VERSIONS = 5;

function policy(ctx: HandlerContext, name: string): Policy {
  const p = ctx.state.policies[name];
  if (!p) throw new AwsServiceError('ResourceNotFoundException', 404, `Policy not found: ${name}`);
  return p;
}

const versionsOf = (p: Policy): PolicyVersion[] =>
  p.versions ?? [{ versionId: p.defaultVersionId, policyDocument: p.policyDocument, createDate: p.creationDate }];

/** The certificates a policy is attached to (the only targets the stand-in attaches policies to). */
const targets = (ctx: HandlerContext, name: string) =>
  Object.values(ctx.state.certificates)
    .filter((c) => c.policies.includes(name))
    .map((c) => c.certificateArn);

const routes: { method: string; pattern: RegExp; op: string; handle: Handler }[] = [
  {
    method: 'DELETE',
    pattern: /^\/policies\/([^/]+)$/,
    op: 'DeletePolicy',
    handle(_req, ctx, [name]) {
      const p = policy(ctx, name);
      if (targets(ctx, name).length > 0) {
        const message =
          `The policy cannot be deleted as the policy is attached to one or more principals ` + `(name=${name})`;
        throw new AwsServiceError('DeleteConflictException', 409, message);
      }
      if (versionsOf(p).length > 1) {
        const message =
          `Cannot delete the policy because it has one or more policy versions attached to it ` + `(name=${name})`;
        throw new AwsServiceError('DeleteConflictException', 409, message);
      }
      delete ctx.state.policies[name];
      ctx.changed();
      return { status: 200 };
    },
  },
  {
    method: 'POST',
    pattern: /^\/policy-targets\/([^/]+)$/,
    op: 'ListTargetsForPolicy',
    handle(req, ctx, [name]) {
      policy(ctx, name);
      const p = page(targets(ctx, name), req, 25, { size: 'pageSize', token: 'marker' });
      return { status: 200, body: { targets: p.items, ...(p.nextToken ? { nextMarker: p.nextToken } : {}) } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/policies\/([^/]+)\/version$/,
    op: 'ListPolicyVersions',
    handle(_req, ctx, [name]) {
      const p = policy(ctx, name);
      const policyVersions = versionsOf(p).map((v) => ({
        versionId: v.versionId,
        isDefaultVersion: v.versionId === p.defaultVersionId,
        createDate: v.createDate,
      }));
      return { status: 200, body: { policyVersions } };
    },
  },
  {
    method: 'POST',
    pattern: /^\/policies\/([^/]+)\/version$/,
    op: 'CreatePolicyVersion',
    handle(req, ctx, [name]) {
      const p = policy(ctx, name);
      const b = jsonBody(req, 'InvalidRequestException');
      if (typeof b.policyDocument !== 'string') {
        throw new AwsServiceError('InvalidRequestException', 400, 'policyDocument is required');
      }
      try {
        JSON.parse(b.policyDocument);
      } catch {
        throw new AwsServiceError('MalformedPolicyException', 400, 'Policy document is not valid JSON');
      }
      const versions = versionsOf(p);
      if (versions.length >= MAX_VERSIONS) {
        const message = `The policy ${name} already has the maximum number of versions (${MAX_VERSIONS})`;
        throw new AwsServiceError('VersionsLimitExceededException', 409, message);
      }
      const versionId = String(Math.max(...versions.map((v) => Number(v.versionId))) + 1);
      const now = nowSeconds();
      p.versions = [...versions, { versionId, policyDocument: b.policyDocument, createDate: now }];
      const isDefault = req.query.get('setAsDefault') === 'true';
      if (isDefault) {
        p.defaultVersionId = versionId;
        p.policyDocument = b.policyDocument;
      }
      p.lastModifiedDate = now;
      ctx.changed();
      const body = {
        policyArn: p.policyArn,
        policyDocument: b.policyDocument,
        policyVersionId: versionId,
        isDefaultVersion: isDefault,
      };
      return { status: 200, body };
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/policies\/([^/]+)\/version\/([^/]+)$/,
    op: 'DeletePolicyVersion',
    handle(_req, ctx, [name, id]) {
      const p = policy(ctx, name);
      const versions = versionsOf(p);
      if (!versions.some((v) => v.versionId === id)) {
        throw new AwsServiceError('ResourceNotFoundException', 404, `Policy version not found: ${name} version ${id}`);
      }
      if (id === p.defaultVersionId) {
        const message = `Cannot delete the default version of a policy (${name} version ${id})`;
        throw new AwsServiceError('InvalidRequestException', 400, message);
      }
      p.versions = versions.filter((v) => v.versionId !== id);
      ctx.changed();
      return { status: 200 };
    },
  },
];

/** The route for a policy lifecycle operation, or null when this module does not handle the request. */
export function route(method: string, path: string): Route | null {
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (m && r.method === method) {
      const params = m.slice(1).map((p) => decodeURIComponent(p));
      return { service: 'iot', op: r.op, handle: (req, ctx) => r.handle(req, ctx, params) };
    }
  }
  return null;
}
