// `fleet deploy`: a template from the operator's YAML file becomes one
// Greengrass deployment targeting the thing group the images provision into, so every clone gets
// its components on its first connection. The template name and version go into deploymentName
// (`<name>@<version>`) and tags, where `fleet summary` reads them back.
import { CreateDeploymentCommand } from '@aws-sdk/client-greengrassv2';
import { UsageError } from '../../../../common/errors.ts';
import { call, makeClients } from '../../aws.ts';
import { command } from '../../command.ts';
import type { Context } from '../../context.ts';
import { EventLog } from '../../fleet/events.ts';
import { ensureThingGroup } from '../../fleet/iot-steps.ts';
import { validateThingGroupName } from '../../fleet/names.ts';
import { deploymentRequest, loadTemplates, pickTemplate, templateLabel } from '../../fleet/templates.ts';
import { EVENTS_OPTION, TEMPLATES_FILE_OPTION } from '../../options.ts';

export interface FleetDeployOptions {
  file: string;
  template: string;
  templateVersion?: number;
  thingGroup: string;
  events?: string;
}

export const fleetDeployCommand = command({
  command: 'deploy',
  describe: 'create a Greengrass deployment of a template to a thing group',
  builder: (y) =>
    y
      .option('file', TEMPLATES_FILE_OPTION)
      .option('template', { type: 'string', demandOption: true, describe: 'template name' })
      .option('template-version', {
        type: 'number',
        describe: 'template version (default: the highest in the file)',
      })
      .option('thing-group', { type: 'string', demandOption: true, describe: 'target thing group' })
      .option('events', EVENTS_OPTION),
}).runs(fleetDeploy);

export async function fleetDeploy(a: FleetDeployOptions, ctx: Context): Promise<void> {
  const group = validateThingGroupName(a.thingGroup);
  if (a.templateVersion !== undefined && !(Number.isInteger(a.templateVersion) && a.templateVersion >= 1))
    throw new UsageError(`--template-version must be a whole number >= 1, got ${a.templateVersion}`);
  const t = pickTemplate(loadTemplates(a.file), a.template, a.templateVersion);
  const events = new EventLog(a.events);
  const c = makeClients(ctx);
  const groupArn = await ensureThingGroup(c, group, false);
  const req = deploymentRequest(t, groupArn);
  const out = await call('CreateDeployment', () => c.gg.send(new CreateDeploymentCommand(req)));
  events.append({
    type: 'deployment.created',
    deploymentId: out.deploymentId,
    template: t.name,
    templateVersion: t.version,
    thingGroup: group,
    thingGroupArn: groupArn,
    iotJobId: out.iotJobId,
  });
  ctx.result(
    {
      deploymentId: out.deploymentId,
      iotJobId: out.iotJobId,
      template: t.name,
      templateVersion: t.version,
      thingGroup: group,
      targetArn: groupArn,
    },
    [`deployment ${out.deploymentId}: ${templateLabel(t.name, t.version)} -> thing group ${group}`],
  );
}
