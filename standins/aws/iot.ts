// IoT control plane (restJson1) for the AWS wire STAND-IN: routed on method + path.
// CreateKeysAndCertificate issues a REAL key pair and certificate signed by the stand-in CA, so the
// provisioning stand-in (same CA) accepts it as a claim certificate. Status codes per the IoT model:
// InvalidRequest 400, Throttling 400, ResourceNotFound 404, CertificateState 406,
// ResourceAlreadyExists / DeleteConflict 409, InternalFailure 500.
import { X509Certificate, createHash, createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import { issueCertificate } from '../pki.ts';
import {
  AwsServiceError,
  jsonBody,
  type HandlerContext,
  type Route,
  type ServiceRequest,
  type ServiceResponse,
} from './server.ts';
import {
  ACCOUNT_ID,
  endpointsFor,
  nowSeconds,
  type Certificate,
  type CertificateStatus,
  type ThingGroup,
} from './state.ts';
import { page, withThings } from './iot-fleet.ts';

type Handler = (req: ServiceRequest, ctx: HandlerContext, params: string[]) => ServiceResponse;

const ENDPOINT_TYPES = ['iot:Data', 'iot:Data-ATS', 'iot:CredentialProvider', 'iot:Jobs'];

const json = (req: ServiceRequest) => jsonBody(req, 'InvalidRequestException');

const arn = (region: string, kind: string, name: string) => `arn:aws:iot:${region}:${ACCOUNT_ID}:${kind}/${name}`;

function cert(ctx: HandlerContext, id: string): Certificate {
  const c = ctx.state.certificates[id];
  if (!c) throw new AwsServiceError('ResourceNotFoundException', 404, `The certificate ${id} does not exist`);
  return c;
}

function certByTarget(ctx: HandlerContext, target: unknown): Certificate {
  if (typeof target !== 'string' || target === '')
    throw new AwsServiceError('InvalidRequestException', 400, 'target is required');
  const c = Object.values(ctx.state.certificates).find((x) => x.certificateArn === target);
  if (!c) throw new AwsServiceError('ResourceNotFoundException', 404, `The target ${target} does not exist`);
  return c;
}

function policyName(ctx: HandlerContext, name: string) {
  const p = ctx.state.policies[name];
  if (!p) throw new AwsServiceError('ResourceNotFoundException', 404, `Policy not found: ${name}`);
  return p;
}

function group(ctx: HandlerContext, name: string): ThingGroup {
  const g = ctx.state.thingGroups[name];
  if (!g) throw new AwsServiceError('ResourceNotFoundException', 404, `Thing Group ${name} does not exist`);
  return g;
}

const NAME_RE = /^[a-zA-Z0-9:_-]{1,128}$/;

const routes: { method: string; pattern: RegExp; op: string; handle: Handler }[] = [
  {
    method: 'POST',
    pattern: /^\/keys-and-certificate$/,
    op: 'CreateKeysAndCertificate',
    handle(req, ctx) {
      const issued = issueCertificate(ctx.ca, { commonName: 'AWS IoT Certificate', days: 365 * 30, keyType: 'rsa' });
      const x = new X509Certificate(issued.certificatePem);
      const certificateId = createHash('sha256').update(x.raw).digest('hex');
      const now = nowSeconds();
      const active = req.query.get('setAsActive') === 'true';
      const c: Certificate = {
        certificateId,
        certificateArn: arn(req.region, 'cert', certificateId),
        certificatePem: issued.certificatePem,
        status: active ? 'ACTIVE' : 'INACTIVE',
        creationDate: now,
        lastModifiedDate: now,
        policies: [],
      };
      ctx.state.certificates[certificateId] = c;
      ctx.changed();
      const publicKey = createPublicKey(createPrivateKey(issued.privateKeyPem))
        .export({ type: 'spki', format: 'pem' })
        .toString();
      return {
        status: 200,
        body: {
          certificateArn: c.certificateArn,
          certificateId,
          certificatePem: c.certificatePem,
          keyPair: { PublicKey: publicKey, PrivateKey: issued.privateKeyPem },
        },
      };
    },
  },
  {
    method: 'GET',
    pattern: /^\/certificates\/([^/]+)$/,
    op: 'DescribeCertificate',
    handle(_req, ctx, [id]) {
      const c = cert(ctx, id);
      return {
        status: 200,
        body: {
          certificateDescription: {
            certificateArn: c.certificateArn,
            certificateId: c.certificateId,
            status: c.status,
            certificatePem: c.certificatePem,
            ownedBy: ACCOUNT_ID,
            creationDate: c.creationDate,
            lastModifiedDate: c.lastModifiedDate,
            certificateMode: 'DEFAULT',
          },
        },
      };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/certificates\/([^/]+)$/,
    op: 'UpdateCertificate',
    handle(req, ctx, [id]) {
      const c = cert(ctx, id);
      const s = req.query.get('newStatus') as CertificateStatus | null;
      if (
        !s ||
        !['ACTIVE', 'INACTIVE', 'REVOKED', 'PENDING_TRANSFER', 'REGISTER_INACTIVE', 'PENDING_ACTIVATION'].includes(s)
      ) {
        throw new AwsServiceError('InvalidRequestException', 400, `newStatus ${s ?? '(missing)'} is not valid`);
      }
      if (c.status === 'REVOKED' && s !== 'REVOKED')
        throw new AwsServiceError('CertificateStateException', 406, 'Certificate is revoked');
      c.status = s;
      c.lastModifiedDate = nowSeconds();
      ctx.changed();
      return { status: 200 };
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/certificates\/([^/]+)$/,
    op: 'DeleteCertificate',
    handle(req, ctx, [id]) {
      const c = cert(ctx, id);
      if (c.status === 'ACTIVE')
        throw new AwsServiceError(
          'CertificateStateException',
          406,
          'Certificate must be deactivated (not ACTIVE) before deletion.',
        );
      if (c.policies.length > 0 && req.query.get('forceDelete') !== 'true') {
        throw new AwsServiceError(
          'DeleteConflictException',
          409,
          `Certificate policies must be detached before deletion (arn: ${c.certificateArn})`,
        );
      }
      // Attached to a thing, or detached so recently that the detach has not propagated (iot-fleet.ts keeps both).
      const fleet = withThings(ctx.state);
      const attached = Object.values(fleet.things).some((t) => t.principals.includes(c.certificateArn));
      const propagating = (fleet.detaching?.[c.certificateArn] ?? 0) > 0;
      if (propagating) fleet.detaching![c.certificateArn]! -= 1;
      if (attached || propagating) {
        throw new AwsServiceError(
          'DeleteConflictException',
          409,
          `Certificate must be detached from all things before deletion (arn: ${c.certificateArn})`,
        );
      }
      delete ctx.state.certificates[id];
      ctx.changed();
      return { status: 200 };
    },
  },
  {
    method: 'POST',
    pattern: /^\/policies\/([^/]+)$/,
    op: 'CreatePolicy',
    handle(req, ctx, [name]) {
      const b = json(req);
      if (ctx.state.policies[name])
        throw new AwsServiceError(
          'ResourceAlreadyExistsException',
          409,
          `Policy cannot be created - name already exists (name=${name})`,
          { resourceId: name, resourceArn: arn(req.region, 'policy', name) },
        );
      if (typeof b.policyDocument !== 'string')
        throw new AwsServiceError('InvalidRequestException', 400, 'policyDocument is required');
      try {
        JSON.parse(b.policyDocument);
      } catch {
        throw new AwsServiceError('MalformedPolicyException', 400, 'Policy document is not valid JSON');
      }
      const now = nowSeconds();
      const p = {
        policyName: name,
        policyArn: arn(req.region, 'policy', name),
        policyDocument: b.policyDocument,
        defaultVersionId: '1',
        creationDate: now,
        lastModifiedDate: now,
      };
      ctx.state.policies[name] = p;
      ctx.changed();
      return {
        status: 200,
        body: { policyName: name, policyArn: p.policyArn, policyDocument: p.policyDocument, policyVersionId: '1' },
      };
    },
  },
  {
    method: 'GET',
    pattern: /^\/policies\/([^/]+)$/,
    op: 'GetPolicy',
    handle(_req, ctx, [name]) {
      const p = policyName(ctx, name);
      return {
        status: 200,
        body: { ...p, generationId: createHash('sha256').update(p.policyDocument).digest('hex').slice(0, 16) },
      };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/target-policies\/([^/]+)$/,
    op: 'AttachPolicy',
    handle(req, ctx, [name]) {
      policyName(ctx, name);
      const c = certByTarget(ctx, json(req).target);
      if (!c.policies.includes(name)) c.policies.push(name);
      ctx.changed();
      return { status: 200 };
    },
  },
  {
    method: 'POST',
    pattern: /^\/target-policies\/([^/]+)$/,
    op: 'DetachPolicy',
    handle(req, ctx, [name]) {
      policyName(ctx, name);
      const c = certByTarget(ctx, json(req).target);
      c.policies = c.policies.filter((p) => p !== name);
      ctx.changed();
      return { status: 200 };
    },
  },
  {
    method: 'POST',
    pattern: /^\/attached-policies\/(.+)$/,
    op: 'ListAttachedPolicies',
    handle(req, ctx, [target]) {
      const c = certByTarget(ctx, target);
      // This operation pages with marker / pageSize / nextMarker (25 a page unless asked).
      const p = page(c.policies, req, 25, { size: 'pageSize', token: 'marker' });
      return {
        status: 200,
        body: {
          policies: p.items.map((n) => ({ policyName: n, policyArn: ctx.state.policies[n]?.policyArn })),
          ...(p.nextToken ? { nextMarker: p.nextToken } : {}),
        },
      };
    },
  },
  {
    method: 'POST',
    pattern: /^\/thing-groups\/([^/]+)$/,
    op: 'CreateThingGroup',
    handle(req, ctx, [name]) {
      if (!NAME_RE.test(name))
        throw new AwsServiceError('InvalidRequestException', 400, `thingGroupName ${name} is not valid`);
      const b = json(req);
      const props = (b.thingGroupProperties as Record<string, unknown> | undefined) ?? {};
      const parent = typeof b.parentGroupName === 'string' ? b.parentGroupName : undefined;
      const existing = ctx.state.thingGroups[name];
      if (existing) {
        // Real IoT: creating a group that exists with the same properties succeeds; different properties conflict.
        if (
          JSON.stringify(existing.thingGroupProperties) === JSON.stringify(props) &&
          existing.parentGroupName === parent
        ) {
          return {
            status: 200,
            body: { thingGroupName: name, thingGroupArn: existing.thingGroupArn, thingGroupId: existing.thingGroupId },
          };
        }
        throw new AwsServiceError(
          'ResourceAlreadyExistsException',
          409,
          `Thing Group ${name} already exists with different properties`,
          { resourceId: existing.thingGroupId, resourceArn: existing.thingGroupArn },
        );
      }
      if (parent) group(ctx, parent);
      const g: ThingGroup = {
        thingGroupName: name,
        thingGroupArn: arn(req.region, 'thinggroup', name),
        thingGroupId: randomUUID(),
        version: 1,
        parentGroupName: parent,
        thingGroupProperties: props,
        creationDate: nowSeconds(),
        things: [],
      };
      ctx.state.thingGroups[name] = g;
      ctx.changed();
      return {
        status: 200,
        body: { thingGroupName: name, thingGroupArn: g.thingGroupArn, thingGroupId: g.thingGroupId },
      };
    },
  },
  {
    method: 'GET',
    pattern: /^\/thing-groups\/([^/]+)$/,
    op: 'DescribeThingGroup',
    handle(_req, ctx, [name]) {
      const g = group(ctx, name);
      return {
        status: 200,
        body: {
          thingGroupName: g.thingGroupName,
          thingGroupId: g.thingGroupId,
          thingGroupArn: g.thingGroupArn,
          version: g.version,
          thingGroupProperties: g.thingGroupProperties,
          thingGroupMetadata: {
            ...(g.parentGroupName ? { parentGroupName: g.parentGroupName } : {}),
            rootToParentThingGroups: [],
            creationDate: g.creationDate,
          },
          status: 'ACTIVE',
        },
      };
    },
  },
  {
    method: 'GET',
    pattern: /^\/thing-groups\/([^/]+)\/things$/,
    op: 'ListThingsInThingGroup',
    handle(_req, ctx, [name]) {
      return { status: 200, body: { things: [...group(ctx, name).things] } };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/thing-groups\/addThingToThingGroup$/,
    op: 'AddThingToThingGroup',
    handle(req, ctx) {
      const b = json(req);
      const name =
        typeof b.thingGroupName === 'string'
          ? b.thingGroupName
          : typeof b.thingGroupArn === 'string'
            ? b.thingGroupArn.split('/').pop()!
            : '';
      const thing =
        typeof b.thingName === 'string'
          ? b.thingName
          : typeof b.thingArn === 'string'
            ? b.thingArn.split('/').pop()!
            : '';
      if (!thing) throw new AwsServiceError('InvalidRequestException', 400, 'thingName or thingArn is required');
      const g = group(ctx, name);
      // AWS answers ResourceNotFoundException for a thing that does not exist (a member must be a thing).
      if (!withThings(ctx.state).things[thing])
        throw new AwsServiceError('ResourceNotFoundException', 404, `Thing ${thing} cannot be found.`);
      if (!g.things.includes(thing)) g.things.push(thing);
      ctx.changed();
      return { status: 200 };
    },
  },
  {
    method: 'GET',
    pattern: /^\/endpoint$/,
    op: 'DescribeEndpoint',
    handle(req, ctx) {
      const type = req.query.get('endpointType') ?? 'iot:Data';
      if (!ENDPOINT_TYPES.includes(type))
        throw new AwsServiceError('InvalidRequestException', 400, `Endpoint type ${type} is not valid.`);
      // One stable endpoint per account and region: the region is the one the request was signed for.
      return { status: 200, body: { endpointAddress: endpointsFor(ctx.state, req.region)[type] } };
    },
  },
  {
    method: 'POST',
    pattern: /^\/provisioning-templates$/,
    op: 'CreateProvisioningTemplate',
    handle(req, ctx) {
      const b = json(req);
      const name = b.templateName;
      if (typeof name !== 'string' || !/^[0-9A-Za-z_-]{1,36}$/.test(name))
        throw new AwsServiceError('InvalidRequestException', 400, 'templateName is not valid');
      if (ctx.state.provisioningTemplates[name])
        throw new AwsServiceError('ResourceAlreadyExistsException', 409, `Template ${name} already exists`);
      if (typeof b.templateBody !== 'string' || typeof b.provisioningRoleArn !== 'string')
        throw new AwsServiceError('InvalidRequestException', 400, 'templateBody and provisioningRoleArn are required');
      const t = {
        templateName: name,
        templateArn: arn(req.region, 'provisioningtemplate', name),
        templateBody: b.templateBody,
        provisioningRoleArn: b.provisioningRoleArn,
        enabled: b.enabled === true,
        defaultVersionId: 1,
        creationDate: nowSeconds(),
      };
      ctx.state.provisioningTemplates[name] = t;
      ctx.changed();
      return { status: 200, body: { templateArn: t.templateArn, templateName: name, defaultVersionId: 1 } };
    },
  },
];

export function route(method: string, path: string): Route | AwsServiceError {
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (m && r.method === method) {
      const params = m.slice(1).map((p) => decodeURIComponent(p));
      return { service: 'iot', op: r.op, handle: (req, ctx) => r.handle(req, ctx, params) };
    }
  }
  return new AwsServiceError('UnknownOperationException', 404, `The stand-in does not implement IoT ${method} ${path}`);
}
