// Greengrass v2 (restJson1, paths under /greengrass/v2/) for the AWS wire STAND-IN: the router hook.
// Add an operation by adding a row to `routes`. Throttling for this service is 429 + Retry-After
// (server.ts renders injected throttles that way); timestamps are epoch seconds.
import { AwsServiceError, type HandlerContext, type Route, type ServiceRequest, type ServiceResponse } from './server.ts';

type Handler = (req: ServiceRequest, ctx: HandlerContext, params: string[]) => ServiceResponse;

const routes: { method: string; pattern: RegExp; op: string; handle: Handler }[] = [
  {
    method: 'GET',
    pattern: /^\/greengrass\/v2\/coreDevices$/,
    op: 'ListCoreDevices',
    handle(req, ctx) {
      const groupArn = req.query.get('thingGroupArn');
      const status = req.query.get('status');
      const groupName = groupArn ? groupArn.split('/').pop() : undefined;
      const devices = Object.values(ctx.state.coreDevices).filter(
        (d) => (!groupName || (d.thingGroups ?? []).includes(groupName)) && (!status || d.status === status),
      );
      return {
        status: 200,
        body: {
          coreDevices: devices.map((d) => ({ coreDeviceThingName: d.coreDeviceThingName, status: d.status, lastStatusUpdateTimestamp: d.lastStatusUpdateTimestamp, platform: d.platform, architecture: d.architecture, runtime: 'aws_nucleus_classic' })),
        },
      };
    },
  },
  {
    method: 'GET',
    pattern: /^\/greengrass\/v2\/coreDevices\/([^/]+)$/,
    op: 'GetCoreDevice',
    handle(_req, ctx, [name]) {
      const d = ctx.state.coreDevices[name];
      if (!d) throw new AwsServiceError('ResourceNotFoundException', 404, `Core device ${name} not found`, { resourceId: name, resourceType: 'CoreDevice' });
      return { status: 200, body: { coreDeviceThingName: d.coreDeviceThingName, coreVersion: d.coreVersion, platform: d.platform, architecture: d.architecture, runtime: 'aws_nucleus_classic', status: d.status, lastStatusUpdateTimestamp: d.lastStatusUpdateTimestamp, tags: {} } };
    },
  },
];

export function route(method: string, path: string): Route | AwsServiceError {
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (m && r.method === method) {
      const params = m.slice(1).map((p) => decodeURIComponent(p));
      return { service: 'greengrassv2', op: r.op, handle: (req, ctx) => r.handle(req, ctx, params) };
    }
  }
  return new AwsServiceError('UnknownOperationException', 404, `The stand-in does not implement Greengrass v2 ${method} ${path}`);
}
