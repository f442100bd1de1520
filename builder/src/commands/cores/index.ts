// yargs registration for `greengrass-image cores ...` (manual provisioning and decommission).
import type { Argv, CommandModule } from 'yargs';
import { makeContext, type GlobalArgs } from '../../context.ts';
import { coresCreate, type CoresCreateArgs } from './create.ts';
import { coresDelete } from './delete.ts';

export const eventsOption = {
  type: 'string',
  describe:
    'append one JSON line per operation to this file (default ./greengrass-image-events.jsonl or $GREENGRASS_IMAGE_EVENTS)',
} as const;

export const coresCommand: CommandModule = {
  command: 'cores',
  describe: 'Greengrass core devices: manual provisioning and decommission',
  builder: (y: Argv) =>
    y
      .command(
        'create',
        'per core: Thing in the group, certificate + device policy, MANUAL installer config and certs bundle (0600), batched and resumable',
        (y2) =>
          y2
            .option('names', { type: 'string', describe: 'comma-separated core thing names' })
            .option('count', { type: 'number', describe: 'number of cores, named <prefix><NNN>' })
            .option('prefix', { type: 'string', describe: 'name prefix with --count' })
            .option('start', { type: 'number', describe: 'first number with --count (default 1)' })
            .option('thing-group', {
              type: 'string',
              demandOption: true,
              describe: 'thing group the cores join (deployments target it)',
            })
            .option('output', {
              alias: 'o',
              type: 'string',
              demandOption: true,
              describe: 'folder for <name>/config.yaml and <name>/certs/',
            })
            .option('policy', {
              type: 'string',
              describe:
                'existing IoT policy for the core certificates (default: a policy per core, GreengrassCorePolicy-<name>, ' +
                'with the document the stack gives fleet-provisioned cores)',
            })
            .option('role-alias', {
              type: 'string',
              describe: 'token-exchange role alias (default GreengrassCoreTokenExchangeRoleAlias)',
            })
            .option('nucleus-version', { type: 'string', describe: 'nucleus version pinned in the config' })
            .option('iot-data-endpoint', {
              type: 'string',
              describe: 'iot:Data-ATS endpoint (DescribeEndpoint when not given)',
            })
            .option('iot-cred-endpoint', {
              type: 'string',
              describe: 'iot:CredentialProvider endpoint (DescribeEndpoint when not given)',
            })
            .option('mqtt-port', { type: 'number', describe: 'nucleus mqtt.port (e.g. 443)' })
            .option('root-ca', { type: 'string', describe: 'Amazon root CA PEM to copy into each certs bundle' })
            .option('concurrency', { type: 'number', default: 8, describe: 'cores in flight at once' })
            .option('rate', { type: 'number', describe: 'at most this many AWS calls per second (client-side)' })
            .option('events', eventsOption),
        async (a) => {
          await coresCreate(a as unknown as CoresCreateArgs, makeContext(a as GlobalArgs));
        },
      )
      .command(
        'delete <names..>',
        'decommission cores: disassociate client devices, delete the core device; --deprovision also deletes certificates and Things. Dry run unless --yes',
        (y2) =>
          y2
            .positional('names', { type: 'string', array: true, describe: 'core thing names' })
            .option('deprovision', {
              type: 'boolean',
              default: false,
              describe: 'also detach/deactivate/delete certificates, leave groups, delete the Thing',
            })
            .option('yes', { type: 'boolean', default: false, describe: 'do it (default: print the plan only)' })
            .option('events', eventsOption),
        async (a) => {
          await coresDelete(
            {
              names: a.names as string[],
              deprovision: a.deprovision as boolean,
              yes: a.yes as boolean,
              events: a.events as string | undefined,
            },
            makeContext(a as GlobalArgs),
          );
        },
      )
      .demandCommand(1, 'cores needs a subcommand: create or delete'),
  handler: () => undefined,
};
