// IoT control plane (restJson1) for the AWS wire STAND-IN: the thing and principal operations the
// fleet commands (`cores`, `devices`) need, on top of iot.ts. Paths and shapes read from
// @aws-sdk/client-iot's schema (dist-cjs/index.js: CreateThing$, AttachThingPrincipal$, ...):
//   CreateThing               POST   /things/{thingName}                     {thingTypeName?, attributePayload?{attributes,merge}, billingGroupName?}
//   DescribeThing             GET    /things/{thingName}
//   DeleteThing               DELETE /things/{thingName}?expectedVersion=
//   AttachThingPrincipal      PUT    /things/{thingName}/principals          header x-amzn-principal, query thingPrincipalType
//   DetachThingPrincipal      DELETE /things/{thingName}/principals          header x-amzn-principal
//   ListThingPrincipals       GET    /things/{thingName}/principals          {principals[], nextToken}
//   ListThingGroupsForThing   GET    /things/{thingName}/thing-groups        {thingGroups[{groupName, groupArn}], nextToken}
//   RemoveThingFromThingGroup PUT    /thing-groups/removeThingFromThingGroup {thingGroupName|thingGroupArn, thingName|thingArn}
//   ListPrincipalThings       GET    /principals/things                      header x-amzn-principal -> {things[], nextToken}
//   UpdateThing               PATCH  /things/{thingName}                     {attributePayload{attributes, merge}, expectedVersion?}
// Things live in `state.things` (added lazily, so state.ts and saved state files stay compatible).
import { randomUUID } from 'node:crypto';
import {
  AwsServiceError,
  jsonBody,
  type HandlerContext,
  type Route,
  type ServiceRequest,
  type ServiceResponse,
} from './server.ts';
import { ACCOUNT_ID, nowSeconds, type StandinState } from './state.ts';

export interface Thing {
  thingName: string;
  thingArn: string;
  thingId: string;
  attributes: Record<string, string>;
  version: number;
  /** Certificate ARNs attached with AttachThingPrincipal. */
  principals: string[];
  creationDate: number;
}

export type FleetIotState = StandinState & {
  things: Record<string, Thing>;
  /**
   * DetachThingPrincipal "is asynchronous; it might take several seconds for the detachment to propagate" (API
   * reference): after a detach, this many DeleteCertificate calls for that certificate still find it attached
   * (counted, not timed, so tests do not depend on the host's speed). 0 by default.
   */
  detachPropagationCalls?: number;
  /** certificate ARN -> DeleteCertificate calls left that answer DeleteConflictException (see detachPropagationCalls). */
  detaching?: Record<string, number>;
};

/** The stand-in state with its thing table (created on first use). */
export function withThings(state: StandinState): FleetIotState {
  const s = state as FleetIotState;
  if (!s.things) s.things = {};
  return s;
}

type Handler = (req: ServiceRequest, ctx: HandlerContext, params: string[]) => ServiceResponse;

const NAME_RE = /^[a-zA-Z0-9:_-]{1,128}$/;
const arn = (region: string, kind: string, name: string) => `arn:aws:iot:${region}:${ACCOUNT_ID}:${kind}/${name}`;

const json = (req: ServiceRequest) => jsonBody(req, 'InvalidRequestException');

function thing(ctx: HandlerContext, name: string): Thing {
  const t = withThings(ctx.state).things[name];
  if (!t) throw new AwsServiceError('ResourceNotFoundException', 404, `Thing ${name} cannot be found.`);
  return t;
}

function principalHeader(req: ServiceRequest): string {
  const p = req.headers['x-amzn-principal'];
  if (typeof p !== 'string' || p === '')
    throw new AwsServiceError('InvalidRequestException', 400, 'x-amzn-principal header is required');
  return p;
}

/** Offset pagination (nextToken = next index as a string), as the real list calls page. */
export function page<T>(
  items: T[],
  req: ServiceRequest,
  defaultMax = 100,
  params = { size: 'maxResults', token: 'nextToken' },
): { items: T[]; nextToken?: string } {
  const max = Math.min(Number(req.query.get(params.size) ?? defaultMax) || defaultMax, 250);
  const start = Number(req.query.get(params.token) ?? 0) || 0;
  const slice = items.slice(start, start + max);
  return { items: slice, ...(start + max < items.length ? { nextToken: String(start + max) } : {}) };
}

function groupName(b: Record<string, unknown>): string {
  return typeof b.thingGroupName === 'string'
    ? b.thingGroupName
    : typeof b.thingGroupArn === 'string'
      ? (b.thingGroupArn.split('/').pop() ?? '')
      : '';
}

const routes: { method: string; pattern: RegExp; op: string; handle: Handler }[] = [
  {
    method: 'POST',
    pattern: /^\/things\/([^/]+)$/,
    op: 'CreateThing',
    handle(req, ctx, [name]) {
      if (!NAME_RE.test(name))
        throw new AwsServiceError(
          'InvalidRequestException',
          400,
          `thingName ${name} is not valid: 1-128 of [a-zA-Z0-9:_-]`,
        );
      const b = json(req);
      const attrs = ((b.attributePayload as { attributes?: Record<string, string> } | undefined)?.attributes ??
        {}) as Record<string, string>;
      const things = withThings(ctx.state).things;
      const existing = things[name];
      if (existing) {
        // Real IoT: CreateThing on an existing thing with the same attributes succeeds; different ones conflict.
        if (JSON.stringify(existing.attributes) === JSON.stringify(attrs)) {
          return { status: 200, body: { thingName: name, thingArn: existing.thingArn, thingId: existing.thingId } };
        }
        throw new AwsServiceError(
          'ResourceAlreadyExistsException',
          409,
          `Thing ${name} already exists with different tags`,
          { resourceId: existing.thingId, resourceArn: existing.thingArn },
        );
      }
      const t: Thing = {
        thingName: name,
        thingArn: arn(req.region, 'thing', name),
        thingId: randomUUID(),
        attributes: attrs,
        version: 1,
        principals: [],
        creationDate: nowSeconds(),
      };
      things[name] = t;
      ctx.changed();
      return { status: 200, body: { thingName: name, thingArn: t.thingArn, thingId: t.thingId } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/things\/([^/]+)$/,
    op: 'DescribeThing',
    handle(_req, ctx, [name]) {
      const t = thing(ctx, name);
      return {
        status: 200,
        body: {
          defaultClientId: t.thingName,
          thingName: t.thingName,
          thingId: t.thingId,
          thingArn: t.thingArn,
          attributes: t.attributes,
          version: t.version,
        },
      };
    },
  },
  {
    method: 'PATCH',
    pattern: /^\/things\/([^/]+)$/,
    op: 'UpdateThing',
    handle(req, ctx, [name]) {
      const t = thing(ctx, name);
      const b = json(req);
      if (b.expectedVersion !== undefined && b.expectedVersion !== t.version)
        throw new AwsServiceError(
          'VersionConflictException',
          409,
          `expectedVersion ${String(b.expectedVersion)} does not match ${t.version}`,
        );
      const p = (b.attributePayload as { attributes?: Record<string, string>; merge?: boolean } | undefined) ?? {};
      const attrs = p.merge ? { ...t.attributes, ...(p.attributes ?? {}) } : { ...(p.attributes ?? {}) };
      // An empty value removes the attribute when merging (as in real IoT).
      for (const [k, v] of Object.entries(attrs)) if (v === '') delete attrs[k];
      t.attributes = attrs;
      t.version += 1;
      ctx.changed();
      return { status: 200, body: {} };
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/things\/([^/]+)$/,
    op: 'DeleteThing',
    handle(req, ctx, [name]) {
      const things = withThings(ctx.state).things;
      const t = things[name];
      // Real IoT: deleting a thing that does not exist succeeds.
      if (!t) return { status: 200, body: {} };
      const expected = req.query.get('expectedVersion');
      if (expected !== null && Number(expected) !== t.version)
        throw new AwsServiceError(
          'VersionConflictException',
          409,
          `expectedVersion ${expected} does not match ${t.version}`,
        );
      if (t.principals.length > 0)
        throw new AwsServiceError(
          'InvalidRequestException',
          400,
          `Cannot delete thing ${name}: it has attached principals`,
        );
      for (const g of Object.values(ctx.state.thingGroups)) g.things = g.things.filter((x) => x !== name);
      delete things[name];
      ctx.changed();
      return { status: 200, body: {} };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/things\/([^/]+)\/principals$/,
    op: 'AttachThingPrincipal',
    handle(req, ctx, [name]) {
      const t = thing(ctx, name);
      const p = principalHeader(req);
      if (!Object.values(ctx.state.certificates).some((c) => c.certificateArn === p))
        throw new AwsServiceError('ResourceNotFoundException', 404, `The principal ${p} does not exist`);
      if (!t.principals.includes(p)) t.principals.push(p);
      ctx.changed();
      return { status: 200, body: {} };
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/things\/([^/]+)\/principals$/,
    op: 'DetachThingPrincipal',
    handle(req, ctx, [name]) {
      const t = thing(ctx, name);
      const p = principalHeader(req);
      t.principals = t.principals.filter((x) => x !== p);
      const s = withThings(ctx.state);
      if (s.detachPropagationCalls) (s.detaching ??= {})[p] = s.detachPropagationCalls;
      ctx.changed();
      return { status: 200, body: {} };
    },
  },
  {
    method: 'GET',
    pattern: /^\/things\/([^/]+)\/principals$/,
    op: 'ListThingPrincipals',
    handle(req, ctx, [name]) {
      const p = page(thing(ctx, name).principals, req, 25);
      return { status: 200, body: { principals: p.items, nextToken: p.nextToken } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/things\/([^/]+)\/thing-groups$/,
    op: 'ListThingGroupsForThing',
    handle(req, ctx, [name]) {
      thing(ctx, name);
      const groups = Object.values(ctx.state.thingGroups)
        .filter((g) => g.things.includes(name))
        .map((g) => ({ groupName: g.thingGroupName, groupArn: g.thingGroupArn }));
      const p = page(groups, req, 25);
      return { status: 200, body: { thingGroups: p.items, nextToken: p.nextToken } };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/thing-groups\/removeThingFromThingGroup$/,
    op: 'RemoveThingFromThingGroup',
    handle(req, ctx) {
      const b = json(req);
      const gname = groupName(b);
      const g = ctx.state.thingGroups[gname];
      if (!g) throw new AwsServiceError('ResourceNotFoundException', 404, `Thing Group ${gname} does not exist`);
      const tname =
        typeof b.thingName === 'string'
          ? b.thingName
          : typeof b.thingArn === 'string'
            ? (b.thingArn.split('/').pop() ?? '')
            : '';
      if (!tname) throw new AwsServiceError('InvalidRequestException', 400, 'thingName or thingArn is required');
      g.things = g.things.filter((x) => x !== tname);
      ctx.changed();
      return { status: 200, body: {} };
    },
  },
  {
    method: 'GET',
    pattern: /^\/principals\/things$/,
    op: 'ListPrincipalThings',
    handle(req, ctx) {
      const p = principalHeader(req);
      const names = Object.values(withThings(ctx.state).things)
        .filter((t) => t.principals.includes(p))
        .map((t) => t.thingName);
      const pg = page(names, req, 25);
      return { status: 200, body: { things: pg.items, nextToken: pg.nextToken } };
    },
  },
];

/** The route for an IoT fleet operation, or null when this module does not handle the request. */
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
