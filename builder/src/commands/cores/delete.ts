// `cores delete NAME... [--deprovision] [--yes]`: decommission. Greengrass side: disassociate the
// core's client devices, DeleteCoreDevice. With --deprovision, the IoT side too: detach and delete
// its certificates (policies detached, deactivated, deleted), delete the core's own IoT policy unless
// it is shared (fleet/core-policy.ts), remove it from its groups, delete the Thing. Every step
// tolerates "already gone", so a re-run after a failure converges. Without --yes it is a dry run:
// the plan is printed and nothing changes.
import {
  BatchDisassociateClientDeviceFromCoreDeviceCommand,
  DeleteCoreDeviceCommand,
  GetCoreDeviceCommand,
  ListClientDevicesAssociatedWithCoreDeviceCommand,
} from '@aws-sdk/client-greengrassv2';
import { isAwsErrorNamed, toAwsError } from '../../aws.ts';
import { AwsError } from '../../../../common/errors.ts';
import type { Context } from '../../context.ts';
import { makeClients, type Clients } from '../../aws.ts';
import { EventLog } from '../../fleet/events.ts';
import { ignoreNotFound, thingRemovalSteps, type Step } from '../../fleet/iot-steps.ts';
import { singleName } from '../../fleet/names.ts';

export interface CoresDeleteArgs {
  names: string[];
  deprovision?: boolean;
  yes?: boolean;
  events?: string;
}

/** The client devices associated with a core, or null when the core is not a Greengrass core device. */
/** Whether Greengrass knows `name` as a core device (it connected as one). */
export async function isCoreDevice(c: Clients, name: string): Promise<boolean> {
  try {
    await c.gg.send(new GetCoreDeviceCommand({ coreDeviceThingName: name }));
    return true;
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return false;
    throw toAwsError(`GetCoreDevice ${name}`, err);
  }
}

export async function associatedClientDevices(c: Clients, core: string): Promise<string[] | null> {
  if (!(await isCoreDevice(c, core))) return null;
  const out: string[] = [];
  let nextToken: string | undefined;
  do {
    let r;
    try {
      r = await c.gg.send(
        new ListClientDevicesAssociatedWithCoreDeviceCommand({ coreDeviceThingName: core, nextToken }),
      );
    } catch (err) {
      throw toAwsError(`ListClientDevicesAssociatedWithCoreDevice ${core}`, err);
    }
    out.push(...(r.associatedClientDevices ?? []).map((d) => d.thingName ?? '').filter(Boolean));
    nextToken = r.nextToken;
  } while (nextToken);
  return out;
}

export function disassociateSteps(c: Clients, core: string, devices: string[]): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < devices.length; i += 100) {
    const chunk = devices.slice(i, i + 100);
    steps.push({
      describe: `disassociate client device(s) ${chunk.join(', ')} from core ${core}`,
      run: async () => {
        const r = await ignoreNotFound('BatchDisassociateClientDeviceFromCoreDevice', () =>
          c.gg.send(
            new BatchDisassociateClientDeviceFromCoreDeviceCommand({
              coreDeviceThingName: core,
              entries: chunk.map((thingName) => ({ thingName })),
            }),
          ),
        );
        // Per-device failures come back in errorEntries with HTTP 200; a device that is gone already is done.
        const failed = (r?.errorEntries ?? []).filter((e) => e.code !== 'ResourceNotFoundException');
        if (failed.length > 0) {
          throw new AwsError(
            `BatchDisassociateClientDeviceFromCoreDevice ${core}: ${failed.map((e) => `${e.thingName}: ${e.code} ${e.message ?? ''}`.trim()).join('; ')}`,
            'disassociate-failed',
          );
        }
      },
    });
  }
  return steps;
}

export async function coresDelete(a: CoresDeleteArgs, ctx: Context): Promise<void> {
  const names = a.names.map((n) => singleName(n, 'core'));
  const events = new EventLog(a.events);
  const c = makeClients(ctx);
  const plans: { core: string; steps: Step[] }[] = [];
  for (const core of names) {
    const steps: Step[] = [];
    const devices = await associatedClientDevices(c, core);
    if (devices !== null) {
      steps.push(...disassociateSteps(c, core, devices));
      steps.push({
        describe: `delete Greengrass core device ${core}`,
        run: () =>
          ignoreNotFound('DeleteCoreDevice', () =>
            c.gg.send(new DeleteCoreDeviceCommand({ coreDeviceThingName: core })),
          ),
      });
    }
    if (a.deprovision) steps.push(...(await thingRemovalSteps(c, core, { ownPolicy: true })));
    plans.push({ core, steps });
  }
  const plan = plans.map((p) => ({ core: p.core, steps: p.steps.map((s) => s.describe) }));
  if (!a.yes) {
    ctx.result({ dryRun: true, deprovision: a.deprovision === true, plan }, [
      'dry run (nothing changed); re-run with --yes to do this:',
      ...plans.flatMap((p) => [
        `${p.core}:`,
        ...(p.steps.length ? p.steps.map((s) => `  - ${s.describe}`) : ['  - nothing to do (already gone)']),
      ]),
      ...(a.deprovision ? [] : ['(the Thing and its certificates stay; add --deprovision to delete them)']),
    ]);
    return;
  }
  for (const p of plans) {
    for (const s of p.steps) {
      ctx.progress(s.describe);
      await s.run();
    }
    if (p.steps.length > 0)
      events.append({
        type: 'core.deleted',
        thingName: p.core,
        deprovisioned: a.deprovision === true,
        steps: p.steps.length,
      });
  }
  ctx.result(
    { dryRun: false, deprovision: a.deprovision === true, plan },
    plans.map(
      (p) => `${p.core}: ${p.steps.length ? `${p.steps.length} step(s) done` : 'nothing to do (already gone)'}`,
    ),
  );
}
