// `cores delete NAME... [--deprovision] [--yes]`: decommission. Greengrass side: disassociate the
// core's client devices, DeleteCoreDevice. With --deprovision, the IoT side too: detach and delete
// its certificates (policies detached, deactivated, deleted), delete the core's own IoT policy unless
// it is shared (fleet/core-policy.ts), remove it from its groups, delete the Thing. Every step
// tolerates "already gone", so a re-run after a failure converges. Without --yes it is a dry run:
// the plan is printed and nothing changes.
import { DeleteCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { UsageError } from '../../../../common/errors.ts';
import { makeClients } from '../../aws.ts';
import { command } from '../../command.ts';
import type { Context } from '../../context.ts';
import { associatedClientDevices, disassociateSteps } from '../../fleet/core-devices.ts';
import { EventLog } from '../../fleet/events.ts';
import { ignoreNotFound, runPlans, thingRemovalSteps, type Step } from '../../fleet/thing-removal.ts';
import { singleName } from '../../fleet/names.ts';
import { EVENTS_OPTION, givenNames, namesArgument } from '../../options.ts';

export interface CoresDeleteOptions {
  names?: string[];
  deprovision: boolean;
  yes: boolean;
  events?: string;
}

export const coresDeleteCommand = command({
  // Optional for yargs so that the deprecated --names alone passes its check; coresDelete requires names.
  command: 'delete [names..]',
  describe:
    'decommission cores: disassociate client devices, delete the core device; --deprovision also deletes certificates and Things. Dry run unless --yes',
  builder: (y) =>
    namesArgument(y, 'core')
      .option('deprovision', {
        type: 'boolean',
        default: false,
        describe: 'also detach/deactivate/delete certificates, leave groups, delete the Thing',
      })
      .option('yes', { type: 'boolean', default: false, describe: 'do it (default: print the plan only)' })
      .option('events', EVENTS_OPTION),
}).runs(coresDelete);

export async function coresDelete(a: CoresDeleteOptions, ctx: Context): Promise<void> {
  const given = givenNames(a.names, ctx);
  if (given === undefined) throw new UsageError('give the core names as arguments (cores delete a b)');
  const names = given.map((n) => singleName(n, 'core'));
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
  await runPlans(plans, ctx.progress, (p) =>
    events.append({
      type: 'core.deleted',
      thingName: p.core,
      deprovisioned: a.deprovision === true,
      steps: p.steps.length,
    }),
  );
  ctx.result(
    { dryRun: false, deprovision: a.deprovision === true, plan },
    plans.map(
      (p) => `${p.core}: ${p.steps.length ? `${p.steps.length} step(s) done` : 'nothing to do (already gone)'}`,
    ),
  );
}
