// yargs registration for `greengrass-image devices ...` (Greengrass client devices).
import type { Argv, CommandModule } from 'yargs';
import { makeContext, type GlobalArgs } from '../../context.ts';
import { eventsOption } from '../cores/index.ts';
import { devicesCreate, devicesDelete, DEFAULT_CLIENT_DEVICE_POLICY } from './devices.ts';

export const devicesCommand: CommandModule = {
  command: 'devices',
  describe: 'client devices of a core: create (Thing, certificate, policy, association) and delete',
  builder: (y: Argv) =>
    y
      .command(
        'create',
        'per device: Thing, certificate + policy (certs 0600 in --output), associate with the core',
        (y2) =>
          y2
            .option('core', { type: 'string', demandOption: true, describe: 'core device thing name' })
            .option('names', { type: 'string', demandOption: true, describe: 'comma-separated device thing names' })
            .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'folder for <name>/certs/' })
            .option('policy', {
              type: 'string',
              describe: `IoT policy for the device certificates (default ${DEFAULT_CLIENT_DEVICE_POLICY})`,
            })
            .option('concurrency', { type: 'number', default: 4 })
            .option('events', eventsOption),
        async (a) => {
          await devicesCreate(
            {
              core: a.core as string,
              names: a.names as string,
              output: a.output as string,
              policy: a.policy as string | undefined,
              concurrency: a.concurrency as number,
              events: a.events as string | undefined,
            },
            makeContext(a as GlobalArgs),
          );
        },
      )
      .command(
        'delete',
        'disassociate devices from the core; --deprovision also deletes their certificates and Things. Dry run unless --yes',
        (y2) =>
          y2
            .option('core', { type: 'string', demandOption: true, describe: 'core device thing name' })
            .option('names', { type: 'string', demandOption: true, describe: 'comma-separated device thing names' })
            .option('deprovision', { type: 'boolean', default: false })
            .option('yes', { type: 'boolean', default: false, describe: 'do it (default: print the plan only)' })
            .option('events', eventsOption),
        async (a) => {
          await devicesDelete(
            {
              core: a.core as string,
              names: a.names as string,
              deprovision: a.deprovision as boolean,
              yes: a.yes as boolean,
              events: a.events as string | undefined,
            },
            makeContext(a as GlobalArgs),
          );
        },
      )
      .demandCommand(1, 'devices needs a subcommand: create or delete'),
  handler: () => undefined,
};
