// IoT account-wide list operations (restJson1) for the AWS wire STAND-IN: what a test reads back to see the whole
// end state (every thing, certificate, group and policy, not only the ones a scenario names). Paths, query names and
// response shapes from @aws-sdk/client-iot's schema (ListThings$, ListCertificates$, ...):
//   ListThings       GET /things        maxResults / nextToken -> {things[{thingName, thingArn, ...}], nextToken}
//   ListCertificates GET /certificates  pageSize / marker      -> {certificates[{certificateId, ...}], nextMarker}
//   ListThingGroups  GET /thing-groups  maxResults / nextToken  -> {thingGroups[{groupName, groupArn}], nextToken}
//   ListPolicies     GET /policies      pageSize / marker       -> {policies[{policyName, policyArn}], nextMarker}
import type { HandlerContext, Route, ServiceRequest, ServiceResponse } from './server.ts';
import { page, withThings } from './iot-fleet.ts';

type Handler = (req: ServiceRequest, ctx: HandlerContext) => ServiceResponse;

const MARKER = { size: 'pageSize', token: 'marker' };

const routes: Record<string, { op: string; handle: Handler }> = {
  '/things': {
    op: 'ListThings',
    handle(req, ctx) {
      const all = Object.values(withThings(ctx.state).things).map((t) => ({
        thingName: t.thingName,
        thingArn: t.thingArn,
        attributes: t.attributes,
        version: t.version,
      }));
      const p = page(all, req, 100);
      return { status: 200, body: { things: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) } };
    },
  },
  '/certificates': {
    op: 'ListCertificates',
    handle(req, ctx) {
      const all = Object.values(ctx.state.certificates).map((c) => ({
        certificateArn: c.certificateArn,
        certificateId: c.certificateId,
        status: c.status,
        certificateMode: 'DEFAULT',
        creationDate: c.creationDate,
      }));
      const p = page(all, req, 25, MARKER);
      return { status: 200, body: { certificates: p.items, ...(p.nextToken ? { nextMarker: p.nextToken } : {}) } };
    },
  },
  '/thing-groups': {
    op: 'ListThingGroups',
    handle(req, ctx) {
      const all = Object.values(ctx.state.thingGroups).map((g) => ({
        groupName: g.thingGroupName,
        groupArn: g.thingGroupArn,
      }));
      const p = page(all, req, 100);
      return { status: 200, body: { thingGroups: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) } };
    },
  },
  '/policies': {
    op: 'ListPolicies',
    handle(req, ctx) {
      const all = Object.values(ctx.state.policies).map((x) => ({ policyName: x.policyName, policyArn: x.policyArn }));
      const p = page(all, req, 25, MARKER);
      return { status: 200, body: { policies: p.items, ...(p.nextToken ? { nextMarker: p.nextToken } : {}) } };
    },
  },
};

/** The route for an IoT list operation, or null when this module does not handle the request. */
export function route(method: string, path: string): Route | null {
  const r = method === 'GET' ? routes[path] : undefined;
  return r ? { service: 'iot', op: r.op, handle: r.handle } : null;
}
