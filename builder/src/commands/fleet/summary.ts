// `fleet summary --thing-group G`: what an operator checks after a rollout. Per template version:
// cores that desire it (every Thing in the group desires the group's latest deployment), cores that
// report it (their effective deployment for the group SUCCEEDED), and the last deployment's
// succeeded / failed / in-progress counts. Per core: HEALTHY / UNHEALTHY, last seen, installed
// template version. First of all: the Things in the group that never reported as core devices
// (clones that failed first boot).
// Which Things are core devices is asked per Thing (GetCoreDevice), not with ListCoreDevices' thingGroupArn
// filter: that filter lists only cores that have SUCCESSFULLY deployed a deployment targeting the group, and
// keeps listing them after they leave it (API reference), so before the first deployment every healthy core,
// and later every core whose deployment failed, would show as "never reported".
import {
  GetCoreDeviceCommand,
  GetDeploymentCommand,
  ListDeploymentsCommand,
  ListEffectiveDeploymentsCommand,
  type EffectiveDeployment,
  type GetCoreDeviceCommandOutput,
} from '@aws-sdk/client-greengrassv2';
import { ListThingsInThingGroupCommand } from '@aws-sdk/client-iot';
import { call, isAwsErrorNamed, makeClients, toAwsError, type Clients } from '../../aws.ts';
import { command } from '../../command.ts';
import type { Context } from '../../context.ts';
import { runBatch, validateConcurrency } from '../../fleet/batch.ts';
import { ensureThingGroup } from '../../fleet/iot-steps.ts';
import { validateThingGroupName } from '../../fleet/names.ts';
import { parseTemplateLabel, TAG_TEMPLATE, TAG_TEMPLATE_VERSION, templateLabel } from '../../fleet/templates.ts';

const SUCCEEDED = new Set(['SUCCEEDED', 'COMPLETED']);
const FAILED = new Set(['FAILED', 'TIMED_OUT', 'CANCELED', 'REJECTED']);
const IN_PROGRESS = new Set(['IN_PROGRESS', 'QUEUED']);

export interface CoreSummary {
  name: string;
  status: string;
  lastSeen: string | null;
  installedTemplate: string | null;
  lastDeployment: { template: string | null; status: string } | null;
}

export interface TemplateSummary {
  template: string;
  latest: boolean;
  desiredInUse: number;
  reportedInUse: number;
  lastDeploymentSucceeded: number;
  lastDeploymentFailed: number;
  lastDeploymentInProgress: number;
}

async function allThings(c: Clients, group: string): Promise<string[]> {
  const out: string[] = [];
  let nextToken: string | undefined;
  do {
    const r = await call('ListThingsInThingGroup', () =>
      c.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group, nextToken })),
    );
    out.push(...(r.things ?? []));
    nextToken = r.nextToken;
  } while (nextToken);
  return out;
}

export interface FleetSummaryOptions {
  thingGroup: string;
  concurrency?: number;
  rate?: number;
}

export const fleetSummaryCommand = command({
  command: 'summary',
  describe: 'per template version and per core: desired / reported, health, never-reported Things',
  builder: (y) =>
    y
      .option('thing-group', { type: 'string', demandOption: true, describe: 'fleet thing group' })
      .option('concurrency', { type: 'number', default: 8, describe: 'cores queried at once' })
      .option('rate', {
        type: 'number',
        describe: 'at most this many AWS calls per second (client-side; a large fleet is asked about core by core)',
      }),
}).runs(fleetSummary);

export async function fleetSummary(a: FleetSummaryOptions, ctx: Context): Promise<void> {
  const group = validateThingGroupName(a.thingGroup);
  const concurrency = validateConcurrency(a.concurrency ?? 8);
  const c = makeClients(ctx, { rate: a.rate });
  const groupArn = await ensureThingGroup(c, group, false);
  const things = await allThings(c, group);

  // Which template version each deployment is (read back from its tags, else its name), cached.
  const labels = new Map<string, string | null>();
  const labelOf = async (deploymentId: string, name?: string): Promise<string | null> => {
    if (labels.has(deploymentId)) return labels.get(deploymentId) ?? null;
    const d = await call('GetDeployment', () => c.gg.send(new GetDeploymentCommand({ deploymentId })));
    const tags = d.tags ?? {};
    const fromName = parseTemplateLabel(d.deploymentName ?? name);
    const label =
      tags[TAG_TEMPLATE] && tags[TAG_TEMPLATE_VERSION]
        ? templateLabel(tags[TAG_TEMPLATE], tags[TAG_TEMPLATE_VERSION])
        : fromName
          ? templateLabel(fromName.name, fromName.version)
          : null;
    labels.set(deploymentId, label);
    return label;
  };

  const latest = (
    await call('ListDeployments', () =>
      c.gg.send(new ListDeploymentsCommand({ targetArn: groupArn, historyFilter: 'LATEST_ONLY' })),
    )
  ).deployments?.[0];
  const latestLabel = latest?.deploymentId ? await labelOf(latest.deploymentId, latest.deploymentName) : null;

  const perTemplate = new Map<string, TemplateSummary>();
  const tpl = (label: string): TemplateSummary => {
    let s = perTemplate.get(label);
    if (!s) {
      s = {
        template: label,
        latest: label === latestLabel,
        desiredInUse: 0,
        reportedInUse: 0,
        lastDeploymentSucceeded: 0,
        lastDeploymentFailed: 0,
        lastDeploymentInProgress: 0,
      };
      perTemplate.set(label, s);
    }
    return s;
  };
  if (latestLabel) tpl(latestLabel).desiredInUse = things.length;

  const coreRows: CoreSummary[] = [];
  const neverReported: string[] = [];
  await runBatch(
    things,
    ['ok'] as const,
    async (name) => {
      let d: GetCoreDeviceCommandOutput;
      try {
        d = await c.gg.send(new GetCoreDeviceCommand({ coreDeviceThingName: name }));
      } catch (err) {
        if (!isAwsErrorNamed(err, 'ResourceNotFoundException')) throw toAwsError(`GetCoreDevice ${name}`, err);
        neverReported.push(name);
        return 'ok';
      }
      const eff: EffectiveDeployment[] = [];
      let tok: string | undefined;
      do {
        const r = await call(`ListEffectiveDeployments ${name}`, () =>
          c.gg.send(new ListEffectiveDeploymentsCommand({ coreDeviceThingName: name, nextToken: tok })),
        );
        eff.push(...(r.effectiveDeployments ?? []));
        tok = r.nextToken;
      } while (tok);
      const forGroup = eff
        .filter((e) => e.targetArn === groupArn)
        .sort((x, y) => (y.modifiedTimestamp?.getTime() ?? 0) - (x.modifiedTimestamp?.getTime() ?? 0))[0];
      let installed: string | null = null;
      let last: CoreSummary['lastDeployment'] = null;
      if (forGroup?.deploymentId) {
        const label = await labelOf(forGroup.deploymentId, forGroup.deploymentName);
        const status = forGroup.coreDeviceExecutionStatus ?? 'UNKNOWN';
        last = { template: label, status };
        if (label) {
          const s = tpl(label);
          if (SUCCEEDED.has(status)) {
            s.lastDeploymentSucceeded += 1;
            s.reportedInUse += 1;
            installed = label;
          } else if (FAILED.has(status)) s.lastDeploymentFailed += 1;
          else if (IN_PROGRESS.has(status)) s.lastDeploymentInProgress += 1;
        }
      }
      coreRows.push({
        name,
        status: d.status ?? 'UNKNOWN',
        lastSeen: d.lastStatusUpdateTimestamp ? d.lastStatusUpdateTimestamp.toISOString() : null,
        installedTemplate: installed,
        lastDeployment: last,
      });
      return 'ok';
    },
    { concurrency, keepGoing: false },
  ).then((r) => {
    if (r.failures[0]) throw r.failures[0].error;
  });
  coreRows.sort((x, y) => x.name.localeCompare(y.name));
  neverReported.sort();
  const templates = [...perTemplate.values()].sort((x, y) => x.template.localeCompare(y.template));
  const unhealthy = coreRows.filter((r) => r.status !== 'HEALTHY').length;
  ctx.result(
    {
      thingGroup: group,
      thingGroupArn: groupArn,
      things: things.length,
      coreDevices: coreRows.length,
      unhealthy,
      neverReported,
      latestDeployment: latest ? { deploymentId: latest.deploymentId, template: latestLabel } : null,
      templates,
      cores: coreRows,
    },
    [
      `thing group ${group}: ${things.length} Thing(s), ${coreRows.length} reported as core devices, ${unhealthy} unhealthy`,
      `never reported (${neverReported.length}): ${neverReported.length ? neverReported.join(', ') : '-'}`,
      `latest deployment: ${latest ? `${latest.deploymentId} (${latestLabel ?? 'not from a template'})` : 'none'}`,
      'template            desired  reported  succeeded  failed  in-progress',
      ...templates.map(
        (t) =>
          `${`${t.template}${t.latest ? ' *' : ''}`.padEnd(20)}${String(t.desiredInUse).padStart(7)}  ${String(t.reportedInUse).padStart(8)}  ${String(t.lastDeploymentSucceeded).padStart(9)}  ${String(t.lastDeploymentFailed).padStart(6)}  ${String(t.lastDeploymentInProgress).padStart(11)}`,
      ),
      'core                           status     last seen                 installed',
      ...coreRows.map(
        (r) =>
          `${r.name.padEnd(31)}${r.status.padEnd(11)}${(r.lastSeen ?? '-').padEnd(26)}${r.installedTemplate ?? '-'}`,
      ),
    ],
  );
}
