// Greengrass v2 (restJson1, paths under /greengrass/v2/) for the AWS wire STAND-IN: the router hook.
// Add an operation by adding a row to `routes`. Throttling for this service is 429 + Retry-After
// (server.ts renders injected throttles that way); timestamps are epoch seconds.
// Paths from @aws-sdk/client-greengrassv2's schema (CreateDeployment$ 201, DeleteCoreDevice$ 204, ...).
// Deployments, effective deployments, installed components and client-device associations live in
// `state.gg` (added lazily). A core "reports" through `reportCoreDevice` (what the nucleus does when
// it connects and runs a deployment): the stand-in's stand-in for the device side.
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
import { page, withThings } from './iot-fleet.ts';

export interface GgDeployment {
  deploymentId: string;
  deploymentName?: string;
  targetArn: string;
  revisionId: string;
  iotJobId: string;
  iotJobArn: string;
  components: Record<string, unknown>;
  deploymentPolicies?: unknown;
  iotJobConfiguration?: unknown;
  tags: Record<string, string>;
  creationTimestamp: number;
  deploymentStatus: 'ACTIVE' | 'COMPLETED' | 'CANCELED' | 'FAILED' | 'INACTIVE';
  clientToken?: string;
}

export type ExecutionStatus =
  'IN_PROGRESS' | 'QUEUED' | 'FAILED' | 'COMPLETED' | 'TIMED_OUT' | 'CANCELED' | 'REJECTED' | 'SUCCEEDED';

export interface EffectiveDeployment {
  deploymentId: string;
  deploymentName: string;
  iotJobId: string;
  iotJobArn: string;
  targetArn: string;
  coreDeviceExecutionStatus: ExecutionStatus;
  reason?: string;
  creationTimestamp: number;
  modifiedTimestamp: number;
}

export interface InstalledComponent {
  componentName: string;
  componentVersion: string;
  lifecycleState: string;
  isRoot: boolean;
  lastStatusChangeTimestamp: number;
  lastReportedTimestamp: number;
}

export interface GgState {
  deployments: Record<string, GgDeployment>;
  effectiveDeployments: Record<string, EffectiveDeployment[]>;
  installedComponents: Record<string, InstalledComponent[]>;
  /** core thing name -> associated client devices. */
  clientDevices: Record<string, { thingName: string; associationTimestamp: number }[]>;
  /**
   * core thing name -> ARNs of the thing groups it has SUCCESSFULLY deployed a deployment for: what ListCoreDevices'
   * thingGroupArn filter selects by (API reference), kept when the core leaves the group, as AWS does.
   */
  deployedGroups: Record<string, string[]>;
  /** Test knob: client device thing name -> the error entry a batch (dis)association answers for it (HTTP 200 still). */
  entryFaults: Record<string, { code: string; message: string }>;
}

export type FleetGgState = StandinState & { gg: GgState };

export function withGg(state: StandinState): FleetGgState {
  const s = state as FleetGgState;
  if (!s.gg)
    s.gg = {
      deployments: {},
      effectiveDeployments: {},
      installedComponents: {},
      clientDevices: {},
      deployedGroups: {},
      entryFaults: {},
    };
  s.gg.deployedGroups ??= {};
  s.gg.entryFaults ??= {};
  return s;
}

const json = (req: ServiceRequest) => jsonBody(req, 'ValidationException');

function coreOr404(ctx: HandlerContext, name: string) {
  const d = ctx.state.coreDevices[name];
  if (!d)
    throw new AwsServiceError('ResourceNotFoundException', 404, `Core device ${name} not found`, {
      resourceId: name,
      resourceType: 'CoreDevice',
    });
  return d;
}

/** Thing groups a core belongs to: IoT membership (state.thingGroups) plus what the core record says. */
function coreGroups(state: StandinState, name: string): string[] {
  const fromIot = Object.values(state.thingGroups)
    .filter((g) => g.things.includes(name))
    .map((g) => g.thingGroupName);
  return [...new Set([...fromIot, ...(state.coreDevices[name]?.thingGroups ?? [])])];
}

/**
 * STAND-IN for the device side: core `thingName` connects (GetCoreDevice/ListCoreDevices see it)
 * and reports the latest deployment for each of its thing groups with `executionStatus`, and
 * the components of those deployments as installed when it SUCCEEDED.
 */
export function reportCoreDevice(
  state: StandinState,
  o: {
    thingName: string;
    status?: 'HEALTHY' | 'UNHEALTHY';
    executionStatus?: ExecutionStatus;
    deploymentId?: string;
    at?: number;
  },
): void {
  const s = withGg(state);
  const at = o.at ?? nowSeconds();
  s.coreDevices[o.thingName] = {
    coreDeviceThingName: o.thingName,
    status: o.status ?? 'HEALTHY',
    lastStatusUpdateTimestamp: at,
    coreVersion: '2.16.0',
    platform: 'linux',
    architecture: 'amd64',
    thingGroups: coreGroups(state, o.thingName),
  };
  if (!o.executionStatus) return;
  const groupArns = coreGroups(state, o.thingName)
    .map((g) => state.thingGroups[g]?.thingGroupArn)
    .filter(Boolean);
  const deps = o.deploymentId
    ? [s.gg.deployments[o.deploymentId]].filter(Boolean)
    : groupArns
        .map((a) =>
          Object.values(s.gg.deployments)
            .filter((d) => d.targetArn === a && d.deploymentStatus === 'ACTIVE')
            .pop(),
        )
        .filter((d): d is GgDeployment => !!d);
  const eff = s.gg.effectiveDeployments[o.thingName] ?? [];
  for (const d of deps) {
    const row: EffectiveDeployment = {
      deploymentId: d.deploymentId,
      deploymentName: d.deploymentName ?? d.deploymentId,
      iotJobId: d.iotJobId,
      iotJobArn: d.iotJobArn,
      targetArn: d.targetArn,
      coreDeviceExecutionStatus: o.executionStatus,
      creationTimestamp: d.creationTimestamp,
      modifiedTimestamp: at,
    };
    const i = eff.findIndex((e) => e.targetArn === d.targetArn);
    if (i >= 0) eff[i] = row;
    else eff.push(row);
    if (o.executionStatus === 'SUCCEEDED' || o.executionStatus === 'COMPLETED') {
      const deployed = (s.gg.deployedGroups[o.thingName] ??= []);
      if (!deployed.includes(d.targetArn)) deployed.push(d.targetArn);
      s.gg.installedComponents[o.thingName] = Object.entries(d.components).map(([componentName, spec]) => ({
        componentName,
        componentVersion: String((spec as { componentVersion?: string }).componentVersion ?? ''),
        lifecycleState: 'RUNNING',
        isRoot: true,
        lastStatusChangeTimestamp: at,
        lastReportedTimestamp: at,
      }));
    }
  }
  s.gg.effectiveDeployments[o.thingName] = eff;
}

/** The newest deployment for its target (deployments are kept in creation order). */
function isLatest(s: FleetGgState, d: GgDeployment): boolean {
  const forTarget = Object.values(s.gg.deployments).filter((x) => x.targetArn === d.targetArn);
  return forTarget[forTarget.length - 1] === d;
}

const TARGET_RE = /^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:(thinggroup|thing)\/([a-zA-Z0-9:_-]{1,128})$/;

type Handler = (req: ServiceRequest, ctx: HandlerContext, params: string[]) => ServiceResponse;

const routes: { method: string; pattern: RegExp; op: string; handle: Handler }[] = [
  {
    method: 'GET',
    pattern: /^\/greengrass\/v2\/coreDevices$/,
    op: 'ListCoreDevices',
    handle(req, ctx) {
      const groupArn = req.query.get('thingGroupArn');
      const status = req.query.get('status');
      const deployed = withGg(ctx.state).gg.deployedGroups;
      // As AWS documents the filter: cores that have successfully deployed a deployment targeting the group, not its members.
      const devices = Object.values(ctx.state.coreDevices).filter(
        (d) =>
          (!groupArn || (deployed[d.coreDeviceThingName] ?? []).includes(groupArn)) && (!status || d.status === status),
      );
      const p = page(devices, req, 100);
      return {
        status: 200,
        body: {
          coreDevices: p.items.map((d) => ({
            coreDeviceThingName: d.coreDeviceThingName,
            status: d.status,
            lastStatusUpdateTimestamp: d.lastStatusUpdateTimestamp,
            platform: d.platform,
            architecture: d.architecture,
            runtime: 'aws_nucleus_classic',
          })),
          nextToken: p.nextToken,
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
      if (!d)
        throw new AwsServiceError('ResourceNotFoundException', 404, `Core device ${name} not found`, {
          resourceId: name,
          resourceType: 'CoreDevice',
        });
      return {
        status: 200,
        body: {
          coreDeviceThingName: d.coreDeviceThingName,
          coreVersion: d.coreVersion,
          platform: d.platform,
          architecture: d.architecture,
          runtime: 'aws_nucleus_classic',
          status: d.status,
          lastStatusUpdateTimestamp: d.lastStatusUpdateTimestamp,
          tags: {},
        },
      };
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/greengrass\/v2\/coreDevices\/([^/]+)$/,
    op: 'DeleteCoreDevice',
    handle(_req, ctx, [name]) {
      coreOr404(ctx, name);
      const s = withGg(ctx.state);
      delete s.coreDevices[name];
      delete s.gg.effectiveDeployments[name];
      delete s.gg.installedComponents[name];
      delete s.gg.deployedGroups[name];
      ctx.changed();
      return { status: 204 };
    },
  },
  {
    method: 'POST',
    pattern: /^\/greengrass\/v2\/deployments$/,
    op: 'CreateDeployment',
    handle(req, ctx) {
      const b = json(req);
      const s = withGg(ctx.state);
      const target = typeof b.targetArn === 'string' ? b.targetArn : '';
      const m = TARGET_RE.exec(target);
      if (!m)
        throw new AwsServiceError(
          'ValidationException',
          400,
          `targetArn ${JSON.stringify(target)} is not a thing or thing group ARN`,
        );
      if (m[1] === 'thinggroup' && !ctx.state.thingGroups[m[2]])
        throw new AwsServiceError('ResourceNotFoundException', 404, `Thing group ${m[2]} not found`, {
          resourceId: target,
          resourceType: 'thinggroup',
        });
      if (m[1] === 'thing' && !withThings(ctx.state).things[m[2]])
        throw new AwsServiceError('ResourceNotFoundException', 404, `Thing ${m[2]} not found`, {
          resourceId: target,
          resourceType: 'thing',
        });
      const token = typeof b.clientToken === 'string' ? b.clientToken : undefined;
      const same = token ? Object.values(s.gg.deployments).find((d) => d.clientToken === token) : undefined;
      if (same)
        return {
          status: 201,
          body: { deploymentId: same.deploymentId, iotJobId: same.iotJobId, iotJobArn: same.iotJobArn },
        };
      const components = (b.components as Record<string, unknown> | undefined) ?? {};
      for (const [name, spec] of Object.entries(components)) {
        const v = (spec as { componentVersion?: unknown })?.componentVersion;
        if (typeof v !== 'string' || v === '')
          throw new AwsServiceError('ValidationException', 400, `components.${name}.componentVersion is required`);
      }
      for (const d of Object.values(s.gg.deployments))
        if (d.targetArn === target && d.deploymentStatus === 'ACTIVE') d.deploymentStatus = 'INACTIVE';
      const deploymentId = randomUUID();
      const iotJobId = randomUUID();
      const d: GgDeployment = {
        deploymentId,
        deploymentName: typeof b.deploymentName === 'string' ? b.deploymentName : undefined,
        targetArn: target,
        revisionId: String(Object.values(s.gg.deployments).filter((x) => x.targetArn === target).length + 1),
        iotJobId,
        iotJobArn: `arn:aws:iot:${req.region}:${ACCOUNT_ID}:job/${iotJobId}`,
        components,
        deploymentPolicies: b.deploymentPolicies,
        iotJobConfiguration: b.iotJobConfiguration,
        tags: (b.tags as Record<string, string> | undefined) ?? {},
        creationTimestamp: nowSeconds(),
        deploymentStatus: 'ACTIVE',
        clientToken: token,
      };
      s.gg.deployments[deploymentId] = d;
      ctx.changed();
      return { status: 201, body: { deploymentId, iotJobId, iotJobArn: d.iotJobArn } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/greengrass\/v2\/deployments$/,
    op: 'ListDeployments',
    handle(req, ctx) {
      const s = withGg(ctx.state);
      const target = req.query.get('targetArn');
      const latestOnly = (req.query.get('historyFilter') ?? 'LATEST_ONLY') === 'LATEST_ONLY';
      let list = Object.values(s.gg.deployments).filter((d) => !target || d.targetArn === target);
      const latest = (d: GgDeployment) => isLatest(s, d);
      if (latestOnly) list = list.filter(latest);
      const p = page(list, req, 50);
      return {
        status: 200,
        body: {
          deployments: p.items.map((d) => ({
            targetArn: d.targetArn,
            revisionId: d.revisionId,
            deploymentId: d.deploymentId,
            deploymentName: d.deploymentName,
            creationTimestamp: d.creationTimestamp,
            deploymentStatus: d.deploymentStatus,
            isLatestForTarget: latest(d),
          })),
          nextToken: p.nextToken,
        },
      };
    },
  },
  {
    method: 'GET',
    pattern: /^\/greengrass\/v2\/deployments\/([^/]+)$/,
    op: 'GetDeployment',
    handle(_req, ctx, [id]) {
      const s = withGg(ctx.state);
      const d = s.gg.deployments[id];
      if (!d)
        throw new AwsServiceError('ResourceNotFoundException', 404, `Deployment ${id} not found`, {
          resourceId: id,
          resourceType: 'deployment',
        });
      const latest = isLatest(s, d);
      return {
        status: 200,
        body: {
          targetArn: d.targetArn,
          revisionId: d.revisionId,
          deploymentId: d.deploymentId,
          deploymentName: d.deploymentName,
          deploymentStatus: d.deploymentStatus,
          iotJobId: d.iotJobId,
          iotJobArn: d.iotJobArn,
          components: d.components,
          deploymentPolicies: d.deploymentPolicies,
          iotJobConfiguration: d.iotJobConfiguration,
          creationTimestamp: d.creationTimestamp,
          isLatestForTarget: latest,
          tags: d.tags,
        },
      };
    },
  },
  {
    method: 'GET',
    pattern: /^\/greengrass\/v2\/coreDevices\/([^/]+)\/effectiveDeployments$/,
    op: 'ListEffectiveDeployments',
    handle(req, ctx, [name]) {
      coreOr404(ctx, name);
      const p = page(withGg(ctx.state).gg.effectiveDeployments[name] ?? [], req, 50);
      return { status: 200, body: { effectiveDeployments: p.items, nextToken: p.nextToken } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/greengrass\/v2\/coreDevices\/([^/]+)\/installedComponents$/,
    op: 'ListInstalledComponents',
    handle(req, ctx, [name]) {
      coreOr404(ctx, name);
      const p = page(withGg(ctx.state).gg.installedComponents[name] ?? [], req, 50);
      return { status: 200, body: { installedComponents: p.items, nextToken: p.nextToken } };
    },
  },
  {
    method: 'POST',
    pattern: /^\/greengrass\/v2\/coreDevices\/([^/]+)\/associateClientDevices$/,
    op: 'BatchAssociateClientDeviceWithCoreDevice',
    handle(req, ctx, [name]) {
      coreOr404(ctx, name);
      const s = withGg(ctx.state);
      const entries = (json(req).entries as { thingName?: string }[] | undefined) ?? [];
      if (entries.length > 100) throw new AwsServiceError('ValidationException', 400, 'at most 100 entries per call');
      const list = s.gg.clientDevices[name] ?? [];
      const errorEntries: { thingName?: string; code: string; message: string }[] = [];
      for (const e of entries) {
        const fault = e.thingName ? s.gg.entryFaults[e.thingName] : undefined;
        if (fault) {
          errorEntries.push({ thingName: e.thingName, ...fault });
          continue;
        }
        if (!e.thingName || !withThings(ctx.state).things[e.thingName]) {
          errorEntries.push({
            thingName: e.thingName,
            code: 'ResourceNotFoundException',
            message: `Thing ${e.thingName ?? ''} not found`,
          });
          continue;
        }
        if (!list.some((x) => x.thingName === e.thingName))
          list.push({ thingName: e.thingName, associationTimestamp: nowSeconds() });
      }
      s.gg.clientDevices[name] = list;
      ctx.changed();
      return { status: 200, body: { errorEntries } };
    },
  },
  {
    method: 'POST',
    pattern: /^\/greengrass\/v2\/coreDevices\/([^/]+)\/disassociateClientDevices$/,
    op: 'BatchDisassociateClientDeviceFromCoreDevice',
    handle(req, ctx, [name]) {
      coreOr404(ctx, name);
      const s = withGg(ctx.state);
      const entries = (json(req).entries as { thingName?: string }[] | undefined) ?? [];
      const errorEntries: { thingName?: string; code: string; message: string }[] = [];
      const names = new Set<string | undefined>();
      for (const e of entries) {
        const fault = e.thingName ? s.gg.entryFaults[e.thingName] : undefined;
        if (fault) errorEntries.push({ thingName: e.thingName, ...fault });
        else if (!e.thingName || !withThings(ctx.state).things[e.thingName])
          errorEntries.push({
            thingName: e.thingName,
            code: 'ResourceNotFoundException',
            message: `Thing ${e.thingName ?? ''} not found`,
          });
        else names.add(e.thingName);
      }
      s.gg.clientDevices[name] = (s.gg.clientDevices[name] ?? []).filter((x) => !names.has(x.thingName));
      ctx.changed();
      return { status: 200, body: { errorEntries } };
    },
  },
  {
    method: 'GET',
    pattern: /^\/greengrass\/v2\/coreDevices\/([^/]+)\/associatedClientDevices$/,
    op: 'ListClientDevicesAssociatedWithCoreDevice',
    handle(req, ctx, [name]) {
      coreOr404(ctx, name);
      const p = page(withGg(ctx.state).gg.clientDevices[name] ?? [], req, 100);
      return { status: 200, body: { associatedClientDevices: p.items, nextToken: p.nextToken } };
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
  return new AwsServiceError(
    'UnknownOperationException',
    404,
    `The stand-in does not implement Greengrass v2 ${method} ${path}`,
  );
}
