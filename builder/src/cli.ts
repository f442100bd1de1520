// greengrass-image: from an AWS account to a sealed golden Greengrass image.
// One place catches every error: one clear line on stderr (and a JSON error with --json), exit code
// from common/errors.ts (the table: README.md, "Exit codes").
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CliError, ExitCode, UsageError } from '../../common/errors.ts';
import type { Command } from './command.ts';
import { buildCommand } from './commands/build/index.ts';
import { claimCommand } from './commands/claim/index.ts';
import { configCommand } from './commands/config/index.ts';
import { coresCommand } from './commands/cores/index.ts';
import { devicesCommand } from './commands/devices/index.ts';
import { endpointsCommand } from './commands/endpoints.ts';
import { fleetCommand } from './commands/fleet/index.ts';
import { validateCommand } from './commands/validate/index.ts';
import { resultPrinted, type GlobalArgs } from './context.ts';
import { GLOBAL_OPTIONS } from './options.ts';

/** Every command, in the order `--help` lists them; each is a module under commands/. */
const COMMANDS: Command[] = [
  claimCommand,
  endpointsCommand,
  configCommand,
  buildCommand,
  validateCommand,
  fleetCommand,
  coresCommand,
  devicesCommand,
];

// The SDK's Node-version notice is not this tool's output: keep stderr to our own lines.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'NodeVersionSupportWarning' && !w.message.startsWith('NodeVersionSupportWarning'))
    process.stderr.write(`greengrass-image: warning: ${w.name}: ${w.message}\n`);
});

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
    const cli = yargs(argv).scriptName('greengrass-image').usage('$0 <command> [options]').options(GLOBAL_OPTIONS);
    await COMMANDS.reduce<Argv<GlobalArgs>>((y, register) => register(y, argv), cli)
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
