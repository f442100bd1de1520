// greengrass-image: from an AWS account to a sealed golden Greengrass image.
// One place catches every error: one clear line on stderr (and a JSON error with --json), exit code
// from common/errors.ts (the table: README.md, "Exit codes").
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CliError, ExitCode, UsageError } from '../../common/errors.ts';
import { makeContext, resultPrinted, type GlobalArgs } from './context.ts';
import { claimCreate, claimRotate } from './commands/claim.ts';
import { endpoints } from './commands/endpoints.ts';
import { configRender } from './commands/config.ts';
import { build, BUILD_OPTIONS } from './commands/build/index.ts';
import { TARGETS } from './packer.ts';
import { validate } from './commands/validate.ts';
import { CONFIG_OPTIONS } from './installer-settings.ts';
import { coresCommand } from './commands/cores/index.ts';
import { fleetCommand } from './commands/fleet/index.ts';
import { devicesCommand } from './commands/devices/index.ts';

// The SDK's Node-version notice is not this tool's output: keep stderr to our own lines.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'NodeVersionSupportWarning' && !w.message.startsWith('NodeVersionSupportWarning'))
    process.stderr.write(`greengrass-image: warning: ${w.name}: ${w.message}\n`);
});

function claimOptions(y: Argv) {
  return y
    .option('env', {
      type: 'string',
      demandOption: true,
      describe: 'environment name (secret <prefix>/<env>/claims-certificate)',
    })
    .option('policy', {
      type: 'string',
      array: true,
      describe: 'IoT policy to attach to the claim certificate (repeatable)',
    })
    .option('secret-prefix', { type: 'string', describe: 'secret name prefix (default greengrass)' });
}

/** The part of the yargs instance a middleware receives that says which options were declared `array`. */
interface DeclaredOptions {
  getOptions(): { array: string[] };
}

const camel = (k: string) => k.replace(/-([a-z])/g, (_m: string, c: string) => c.toUpperCase());

/**
 * yargs turns an option given twice into an array, which a command expecting one value would take apart with a
 * type error: refuse it by name instead. Options declared `array` (e.g. --policy, --var-file) repeat as documented.
 */
function refuseRepeatedOptions(a: Record<string, unknown>, y: DeclaredOptions): void {
  const arrays = new Set(y.getOptions().array.flatMap((n) => [n, camel(n)]));
  // Long names first: `-o x -o y` is reported as --output.
  for (const [k, v] of Object.entries(a).sort(([x], [y]) => y.length - x.length)) {
    if (k === '_' || k === '$0' || !Array.isArray(v) || arrays.has(k) || /[A-Z]/.test(k)) continue;
    const flag = k.length === 1 ? `-${k}` : `--${k}`;
    throw new UsageError(`${flag} was given ${v.length} times (${v.map(String).join(', ')}): give it once`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    const cli = yargs(argv);
    await cli
      .scriptName('greengrass-image')
      .usage('$0 <command> [options]')
      .option('profile', { type: 'string', describe: 'AWS profile (default credential chain otherwise)' })
      .option('region', { type: 'string', describe: 'AWS region (default: AWS_REGION / the profile)' })
      .option('json', { type: 'boolean', describe: 'machine-readable JSON on stdout' })
      .command('claim', 'claim certificate in IoT + Secrets Manager', (y) =>
        y
          .command(
            'create',
            'create the claim certificate, attach its policy, create the thing group, store it (idempotent)',
            (y2) =>
              claimOptions(y2).option('thing-group', {
                type: 'string',
                describe: 'thing group to create (default GreengrassGoldenImageCores)',
              }),
            async (a) => {
              const ctx = makeContext(a as GlobalArgs);
              await claimCreate(
                {
                  env: a.env,
                  policy: a.policy as string[] | undefined,
                  thingGroup: a.thingGroup as string | undefined,
                  secretPrefix: a.secretPrefix as string | undefined,
                },
                ctx,
              );
            },
          )
          .command(
            'rotate',
            'make a new claim certificate and store it as the current secret version',
            (y2) =>
              claimOptions(y2).option('deactivate-old', {
                type: 'boolean',
                default: false,
                describe: 'deactivate the previous certificate',
              }),
            async (a) => {
              const ctx = makeContext(a as GlobalArgs);
              await claimRotate(
                {
                  env: a.env,
                  policy: a.policy as string[] | undefined,
                  secretPrefix: a.secretPrefix as string | undefined,
                  deactivateOld: a.deactivateOld as boolean,
                },
                ctx,
              );
            },
          )
          .demandCommand(1, 'claim needs a subcommand: create or rotate'),
      )
      .command('endpoints', 'DescribeEndpoint for iot:Data-ATS and iot:CredentialProvider', {}, async (a) => {
        await endpoints(makeContext(a as GlobalArgs));
      })
      .command('config', 'installer config', (y) =>
        y
          .command(
            'render',
            'render the FleetProvisioningByClaim installer config.yaml',
            (y2) =>
              y2
                .options(CONFIG_OPTIONS)
                .option('settings', { type: 'string', describe: 'YAML settings file with the same keys as the flags' })
                .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' }),
            async (a) => {
              await configRender(a as Record<string, unknown>, makeContext(a as GlobalArgs));
            },
          )
          .demandCommand(1, 'config needs a subcommand: render'),
      )
      .command(
        'build',
        'build the golden image (claim, config, agent, nucleus, plugin -> packer build)',
        (y) =>
          y
            .option('target', { type: 'string', describe: `one of ${Object.keys(TARGETS).join(', ')}` })
            .option('env', { type: 'string', describe: 'environment of the claim secret' })
            .options(BUILD_OPTIONS)
            .options(CONFIG_OPTIONS)
            .option('settings', { type: 'string', describe: 'YAML settings file with the same keys as the flags' }),
        async (a) => {
          await build(a as Record<string, unknown>, makeContext(a as GlobalArgs));
        },
      )
      .command(
        'validate',
        'packer validate + fmt -check on the templates, config schema, provisioning template parameters',
        (y) =>
          y
            .option('packer', { type: 'string', describe: 'packer binary (default: packer on PATH)' })
            .option('var-file', { type: 'string', array: true, describe: 'site var-file for the full validate' })
            .option('target', {
              type: 'string',
              describe: `validate this Packer source only (${Object.keys(TARGETS).join(', ')}); default all`,
            })
            .option('config', {
              type: 'string',
              describe: 'installer config.yaml to check (default: rendered from the flags with placeholder endpoints)',
            })
            .option('env', {
              type: 'string',
              describe: 'also check the claim of this environment and the thing group in AWS (as build does)',
            })
            .option('secret-prefix', { type: 'string', describe: 'claim secret prefix (default greengrass)' })
            .option('plugin-source', {
              type: 'string',
              describe: 'also check this local plugin jar has the FleetProvisioningByClaim layout',
            })
            .options(CONFIG_OPTIONS)
            .option('settings', { type: 'string', describe: 'YAML settings file with the same keys as the flags' }),
        async (a) => {
          await validate(a as Record<string, unknown>, makeContext(a as GlobalArgs));
        },
      )
      .command(fleetCommand)
      .command(coresCommand)
      .command(devicesCommand)
      .demandCommand(1, 'a command is required')
      .middleware((a) => refuseRepeatedOptions(a, cli as unknown as DeclaredOptions))
      .strict()
      .help()
      .version(false)
      .fail((msg, err) => {
        if (err) throw err;
        throw new UsageError(msg);
      })
      .parseAsync();
    return ExitCode.OK;
  } catch (err) {
    const e = err instanceof CliError ? err : null;
    const code = e ? e.exitCode : ExitCode.INTERNAL;
    const message = e ? e.message : `internal error: ${(err as Error)?.stack ?? String(err)}`;
    process.stderr.write(`greengrass-image: error: ${message}\n`);
    // With --json, stdout carries exactly one document: the result, or else the error.
    if (json && !resultPrinted())
      process.stdout.write(
        `${JSON.stringify({ error: { reason: e?.reason ?? 'internal', exitCode: code, message: e ? e.message : String((err as Error)?.message ?? err) } })}\n`,
      );
    return code;
  }
}

const code = await main(hideBin(process.argv));
// Exit now: the SDK's keep-alive sockets must not hold the process open.
process.exit(code);
