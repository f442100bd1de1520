// `config`: the installer config.
import { commandGroup } from '../../command.ts';
import { configRenderCommand } from './render.ts';

export const configCommand = commandGroup({
  command: 'config',
  describe: 'installer config',
  commands: [configRenderCommand],
  missing: 'config needs a subcommand: render',
});
