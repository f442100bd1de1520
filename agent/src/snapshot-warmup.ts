// Run while the build makes the executable's V8 startup snapshot (main.ts): exercise the code every
// device runs (yargs with its help layout, which yargs renders before each command; the YAML
// configs; ThingName rules; the logger) so the snapshot holds those functions already compiled.
// Pure work only: nothing may touch the process (stdout, signals, files, env) or keep state, since
// the heap left behind is what every device starts from.
import yaml from 'js-yaml';
import { dumpInstallerConfig, fillTemplateParameters, parseInstallerConfig, renderInstallerConfig, THING_NAME_PLACEHOLDER } from '../../common/installer-config.ts';
import { applyFqdnMode, validateThingName } from '../../common/thing-name.ts';
import { DEFAULT_AGENT_CONFIG, resolveAgentConfig } from './agent-config.ts';
import { buildCli } from './cli.ts';
import { createLogger } from './log.ts';

export function warmUp(): void {
  for (const args of [['--help'], ['--version'], ['run', '--help'], ['status', '--json', '--help']]) {
    // A parse callback gets yargs' output instead of it being printed; exitProcess(false) is set.
    buildCli(new AbortController(), args, 100, () => undefined).parse(args, {}, () => undefined);
  }
  resolveAgentConfig(yaml.load(yaml.dump(DEFAULT_AGENT_CONFIG), { schema: yaml.CORE_SCHEMA }));
  const template = renderInstallerConfig({
    nucleusVersion: '2.16.0',
    rootPath: '/greengrass/v2',
    awsRegion: 'eu-west-1',
    iotDataEndpoint: 'warmup-ats.iot.eu-west-1.amazonaws.com',
    iotCredentialEndpoint: 'warmup.credentials.iot.eu-west-1.amazonaws.com',
    iotRoleAlias: 'WarmupRoleAlias',
    provisioningTemplate: 'WarmupTemplate',
    claimCertificatePath: '/greengrass/v2/claim-certs/claim.pem.crt',
    claimCertificatePrivateKeyPath: '/greengrass/v2/claim-certs/claim.private.pem.key',
    rootCaPath: '/greengrass/v2/AmazonRootCA1.pem',
    templateParameters: { ThingName: THING_NAME_PLACEHOLDER },
  });
  const name = validateThingName(applyFqdnMode('warmup-01.example.internal', 'short'), { deny: ['template'] });
  dumpInstallerConfig(fillTemplateParameters(parseInstallerConfig(template), { thingName: name }));
  const log = createLogger({ journal: true, write: () => undefined });
  log.info({ thingName: name, privateKey: 'x' }, 'warm-up');
  log.error({ reason: 'warm-up' }, 'warm-up');
}
