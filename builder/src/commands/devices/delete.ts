// `devices delete NAME... --core CORE [--deprovision] [--yes]`: disassociate the devices from the core; with
// --deprovision also delete their certificates and Things. Dry run unless --yes.
import { UsageError } from '../../../../common/errors.ts';
import { makeClients } from '../../aws.ts';
import { command } from '../../command.ts';
import type { Context } from '../../context.ts';
import { associatedClientDevices, disassociateSteps, isCoreDevice } from '../../fleet/core-devices.ts';
import { EventLog } from '../../fleet/events.ts';
import { runPlans, thingRemovalSteps, type Step } from '../../fleet/thing-removal.ts';
import { batchNames, singleName } from '../../fleet/names.ts';
import { EVENTS_OPTION, givenNames, namesArgument } from '../../options.ts';

export interface DevicesDeleteOptions {
  core: string;
  names?: string[];
  deprovision: boolean;
  yes: boolean;
  events?: string;
}

export const devicesDeleteCommand = command({
  // Optional for yargs so that the deprecated --names alone passes its check; devicesDelete requires names.
  command: 'delete [names..]',
  describe:
    'disassociate devices from the core; --deprovision also deletes their certificates and Things. Dry run unless --yes',
  builder: (y) =>
    namesArgument(y, 'device')
      .option('core', { type: 'string', demandOption: true, describe: 'core device thing name' })
      .option('deprovision', { type: 'boolean', default: false })
      .option('yes', { type: 'boolean', default: false, describe: 'do it (default: print the plan only)' })
      .option('events', EVENTS_OPTION),
}).runs(devicesDelete);

export async function devicesDelete(a: DevicesDeleteOptions, ctx: Context): Promise<void> {
  const core = singleName(a.core, 'core');
  const names = batchNames({ names: givenNames(a.names, ctx) }, 'device');
  if (names.includes(core))
    throw new UsageError(`device name ${core} is the core's own name: use cores delete to remove a core`);
  const events = new EventLog(a.events);
  const c = makeClients(ctx);
  const associated = (await associatedClientDevices(c, core)) ?? [];
  const plans: { device: string; steps: Step[] }[] = [];
  for (const d of names) {
    // Another core's name here would deprovision that core's identity.
    if (a.deprovision && (await isCoreDevice(c, d))) {
      throw new UsageError(
        `${d} is a Greengrass core device, not a client device: use cores delete ${d} to remove a core`,
      );
    }
  }
  for (const d of names) {
    const steps: Step[] = associated.includes(d) ? disassociateSteps(c, core, [d]) : [];
    if (a.deprovision) steps.push(...(await thingRemovalSteps(c, d)));
    plans.push({ device: d, steps });
  }
  const plan = plans.map((p) => ({ device: p.device, steps: p.steps.map((s) => s.describe) }));
  if (!a.yes) {
    ctx.result({ dryRun: true, core, plan }, [
      'dry run (nothing changed); re-run with --yes to do this:',
      ...plans.flatMap((p) => [
        `${p.device}:`,
        ...(p.steps.length ? p.steps.map((s) => `  - ${s.describe}`) : ['  - nothing to do']),
      ]),
    ]);
    return;
  }
  await runPlans(plans, ctx.progress, (p) =>
    events.append({
      type: 'device.deleted',
      thingName: p.device,
      coreDeviceThingName: core,
      deprovisioned: a.deprovision === true,
    }),
  );
  ctx.result(
    { dryRun: false, core, plan },
    plans.map((p) => `${p.device}: ${p.steps.length ? `${p.steps.length} step(s) done` : 'nothing to do'}`),
  );
}
