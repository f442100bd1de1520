// `fleet template validate` and `fleet deploy`: a template from the operator's YAML file becomes one
// Greengrass deployment targeting the thing group the images provision into, so every clone gets
// its components on its first connection. The template name and version go into deploymentName
// (`<name>@<version>`) and tags, where `fleet summary` reads them back.
import { CreateDeploymentCommand } from '@aws-sdk/client-greengrassv2';
import { UsageError } from '../../../../common/errors.ts';
import { call } from '../../aws.ts';
import type { Context } from '../../context.ts';
import { makeClients } from '../../aws.ts';
import { EventLog } from '../../fleet/events.ts';
import { ensureThingGroup } from '../../fleet/iot-steps.ts';
import { validateThingGroupName } from '../../fleet/names.ts';
import { deploymentRequest, loadTemplates, pickTemplate, templateLabel } from '../../fleet/templates.ts';

export function templateValidate(a: { file: string }, ctx: Context): void {
  const all = loadTemplates(a.file);
  ctx.result(
    {
      file: a.file,
      valid: true,
      templates: all.map((t) => ({ name: t.name, version: t.version, components: Object.keys(t.components).length })),
    },
    [
      `${a.file}: ${all.length} template version(s) valid`,
      ...all.map(
        (t) =>
          `  ${templateLabel(t.name, t.version)}: ${Object.entries(t.components)
            .map(([n, c]) => `${n} ${c.version}`)
            .join(', ')}`,
      ),
    ],
  );
}

export interface DeployArgs {
  file: string;
  template: string;
  templateVersion?: number;
  thingGroup: string;
  events?: string;
}

export async function fleetDeploy(a: DeployArgs, ctx: Context): Promise<void> {
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
