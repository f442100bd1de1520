// `devices`: Greengrass client devices of a core.
import { commandGroup } from '../../command.ts';
import { devicesCreateCommand } from './create.ts';
import { devicesDeleteCommand } from './delete.ts';

export const devicesCommand = commandGroup({
  command: 'devices',
  describe: 'client devices of a core: create (Thing, certificate, policy, association) and delete',
  commands: [devicesCreateCommand, devicesDeleteCommand],
  missing: 'devices needs a subcommand: create or delete',
});
