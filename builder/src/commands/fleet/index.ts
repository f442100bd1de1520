// yargs registration for `greengrass-image fleet ...` (templates, deployments, summary).
import type { Argv, CommandModule } from 'yargs';
import { makeContext, type GlobalArgs } from '../../context.ts';
import { eventsOption } from '../cores/index.ts';
import { fleetDeploy, templateValidate } from './deploy.ts';
import { fleetSummary } from './summary.ts';

const fileOption = {
  type: 'string',
  default: 'fleet-templates.yaml',
  describe: 'deployment templates YAML file',
} as const;

export const fleetCommand: CommandModule = {
  command: 'fleet',
  describe: 'deployment templates, deployments to the fleet thing group, fleet summary',
  builder: (y: Argv) =>
    y
      .command('template', 'deployment templates', (y2) =>
        y2
          .command(
            'validate',
            'check the templates file (every problem listed)',
            (y3) => y3.option('file', fileOption),
            (a) => {
              templateValidate({ file: a.file as string }, makeContext(a as GlobalArgs));
            },
          )
          .demandCommand(1, 'fleet template needs a subcommand: validate'),
      )
      .command(
        'deploy',
        'create a Greengrass deployment of a template to a thing group',
        (y2) =>
          y2
            .option('file', fileOption)
            .option('template', { type: 'string', demandOption: true, describe: 'template name' })
            .option('template-version', {
              type: 'number',
              describe: 'template version (default: the highest in the file)',
            })
            .option('thing-group', { type: 'string', demandOption: true, describe: 'target thing group' })
            .option('events', eventsOption),
        async (a) => {
          await fleetDeploy(
            {
              file: a.file as string,
              template: a.template as string,
              templateVersion: a.templateVersion as number | undefined,
              thingGroup: a.thingGroup as string,
              events: a.events as string | undefined,
            },
            makeContext(a as GlobalArgs),
          );
        },
      )
      .command(
        'summary',
        'per template version and per core: desired / reported, health, never-reported Things',
        (y2) =>
          y2
            .option('thing-group', { type: 'string', demandOption: true, describe: 'fleet thing group' })
            .option('concurrency', { type: 'number', default: 8, describe: 'cores queried at once' })
            .option('rate', {
              type: 'number',
              describe:
                'at most this many AWS calls per second (client-side; a large fleet is asked about core by core)',
            }),
        async (a) => {
          await fleetSummary(
            {
              thingGroup: a.thingGroup as string,
              concurrency: a.concurrency as number,
              rate: a.rate as number | undefined,
            },
            makeContext(a as GlobalArgs),
          );
        },
      )
      .demandCommand(1, 'fleet needs a subcommand: template, deploy or summary'),
  handler: () => undefined,
};
