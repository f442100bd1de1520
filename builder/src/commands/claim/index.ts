// `claim`: the fleet-provisioning claim certificate and its secret.
import { commandGroup } from '../../command.ts';
import { claimCreateCommand } from './create.ts';
import { claimRotateCommand } from './rotate.ts';

export const claimCommand = commandGroup({
  command: 'claim',
  describe: 'claim certificate in IoT + Secrets Manager',
  commands: [claimCreateCommand, claimRotateCommand],
  missing: 'claim needs a subcommand: create or rotate',
});
