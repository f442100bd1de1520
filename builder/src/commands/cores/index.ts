// `cores`: manual provisioning and decommission of Greengrass core devices.
import { commandGroup } from '../../command.ts';
import { coresCreateCommand } from './create.ts';
import { coresDeleteCommand } from './delete.ts';

export const coresCommand = commandGroup({
  command: 'cores',
  describe: 'Greengrass core devices: manual provisioning and decommission',
  commands: [coresCreateCommand, coresDeleteCommand],
  missing: 'cores needs a subcommand: create or delete',
});
