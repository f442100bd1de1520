// `fleet template`: the deployment templates file.
import { commandGroup } from '../../../command.ts';
import { templateValidateCommand } from './validate.ts';

export const templateCommand = commandGroup({
  command: 'template',
  describe: 'deployment templates',
  commands: [templateValidateCommand],
  missing: 'fleet template needs a subcommand: validate',
});
