// `fleet`: deployment templates, deployments to the fleet thing group, fleet summary.
import { commandGroup } from '../../command.ts';
import { fleetDeployCommand } from './deploy.ts';
import { fleetSummaryCommand } from './summary.ts';
import { templateCommand } from './template/index.ts';

export const fleetCommand = commandGroup({
  command: 'fleet',
  describe: 'deployment templates, deployments to the fleet thing group, fleet summary',
  commands: [templateCommand, fleetDeployCommand, fleetSummaryCommand],
  missing: 'fleet needs a subcommand: template, deploy or summary',
});
