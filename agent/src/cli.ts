// greengrass-firstboot: the first-boot agent. Typed errors are caught here, in one place, and
// mapped to the exit codes in common/errors.ts. Importing this module has no side effects; the
// executable's entry (main.ts) calls start(), which handles the process (signals, argv, exit code).
import { isatty } from 'node:tty';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { CliError, ExitCode, InterruptedError, UsageError } from '../../common/errors.ts';
import { DEFAULT_CONFIG_PATH, loadAgentConfig } from './agent-config.ts';
import { createLogger, logSink, scrubSecrets, type LogFormat, type Logger } from './log.ts';
import { flushStatus, notifyStatus } from './progress.ts';
import { writeStdout } from './fd-write.ts';
import { AGENT_VERSION } from './version.ts';
import type { CommandContext } from './commands/context.ts';

let log: Logger | undefined;
/** --log-format as typed (it also applies to an error before the config is read). */
let formatArg: LogFormat | undefined;

function context(controller: AbortController, argv: Record<string, unknown>, command?: string): CommandContext {
  const configPath = String(argv.config ?? DEFAULT_CONFIG_PATH);
  if (configPath.trim() === '') throw new UsageError('--config needs a path (it is empty)');
  const level = typeof argv['log-level'] === 'string' ? argv['log-level'] : undefined;
  formatArg = typeof argv['log-format'] === 'string' ? (argv['log-format'] as LogFormat) : undefined;
  log = createLogger({ level, format: formatArg });
  const cfg = loadAgentConfig(configPath);
  const format = formatArg ?? cfg.log.format;
  log = createLogger({ level: level ?? cfg.log.level, format });
  // In the journal, `run`'s result line would repeat the event that says it ("Provisioned as …"): once is enough.
  const out = command === 'run' && logSink({ format }) === 'journal' ? () => {} : writeStdout;
  return { configPath, cfg, log, signal: controller.signal, out };
}

/** The yargs CLI. Each command handler reports its exit code through `setCode`. */
export function buildCli(controller: AbortController, argv: string[], setCode: (code: number) => void) {
  const cli = yargs(argv)
    .scriptName('greengrass-firstboot')
    .usage(
      '$0 <command> [--config PATH]\n\nTurns a fresh clone into a provisioned AWS IoT Greengrass v2 core, exactly once.',
    )
    .option('config', {
      type: 'string',
      default: DEFAULT_CONFIG_PATH,
      describe: 'agent config (every path the agent touches comes from it)',
      global: true,
      requiresArg: true,
    })
    .option('log-level', {
      type: 'string',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'],
      describe: 'overrides log.level from the config',
      global: true,
    })
    .option('log-format', {
      type: 'string',
      choices: ['auto', 'text', 'json'],
      describe:
        'overrides log.format: auto = sentences, as journal entries with fields under systemd; json = pino JSON lines',
      global: true,
    })
    .command(
      'run',
      'provision this machine (preflight, render, install, verify, finish); exits 0 at once if already provisioned',
      {},
      async (a) => {
        const { runCommand } = await import('./commands/run.ts');
        setCode(await runCommand(context(controller, a, 'run')));
      },
    )
    .command(
      'check',
      'run every preflight step and report; changes nothing',
      (y) =>
        y
          .option('wait', {
            type: 'boolean',
            default: false,
            describe: 'wait (bounded) for the clock and the endpoint like run does',
          })
          .option('json', { type: 'boolean', default: false }),
      async (a) => {
        const { checkCommand } = await import('./commands/check.ts');
        setCode(await checkCommand(context(controller, a), { wait: a.wait, json: a.json }));
      },
    )
    .command(
      'status',
      'what happened: provisioned or not, ThingName, when, attempts, last error',
      (y) => y.option('json', { type: 'boolean', default: false }),
      async (a) => {
        const { statusCommand } = await import('./commands/status.ts');
        try {
          setCode(statusCommand(context(controller, a), { json: a.json }));
        } catch (err) {
          // --json always prints JSON: a script reading it sees the error too (stderr still gets the line).
          if (a.json && err instanceof CliError)
            writeStdout(
              `${JSON.stringify({ error: { reason: err.reason, message: scrubSecrets(err.message), exitCode: err.exitCode } }, null, 2)}\n`,
            );
          throw err;
        }
      },
    )
    .command(
      'seal',
      'undo first-boot state so this machine can be captured as a template again; records the template hostname',
      (y) =>
        y
          .option('template-hostname', {
            type: 'string',
            requiresArg: true,
            describe: "the image's hostname, refused as a ThingName on clones (default: this machine's hostname)",
          })
          .option('remove-identity', {
            type: 'boolean',
            default: false,
            describe: 'also delete a Greengrass identity (config store, device cert/key) if this machine holds one',
          }),
      async (a) => {
        const { sealCommand } = await import('./commands/seal.ts');
        setCode(
          sealCommand(context(controller, a), {
            templateHostname: a['template-hostname'],
            removeIdentity: a['remove-identity'],
          }),
        );
      },
    )
    .demandCommand(1, 'a command is required: run, check, status or seal')
    .strict()
    .version(AGENT_VERSION)
    .help()
    .epilog(
      'Exit codes: 0 ok / already provisioned, 2 usage, 3 permanent configuration error (not retried), 75 transient failure (retry), 130 interrupted, 1 internal error.',
    )
    // process.stdout is made only for a terminal (its width); otherwise nothing here creates it.
    .wrap(Math.min(110, (isatty(1) ? process.stdout.columns : undefined) ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      // yargs' own argument errors (e.g. `--config` with no value) arrive as a YError: usage, not internal.
      if (err && err.name !== 'YError') throw err;
      throw new UsageError(usageMessage(msg ?? err?.message ?? 'invalid arguments', argv));
    });
  skipHelpCache(cli);
  return cli;
}

/** yargs' argument errors, said once and as typed: `unknown option --colour`, `--log-level "loud" is not one of …`. */
export function usageMessage(msg: string, argv: string[]): string {
  const unknown = /^Unknown arguments?: (.+)$/.exec(msg);
  if (unknown) {
    const typed = (unknown[1] as string).split(', ').map((n) => {
      const t = argv.find((a) => a === n || a.replace(/^-+/, '').split('=')[0] === n) ?? n;
      return t.startsWith('-') ? `option ${t.split('=')[0]}` : `command ${JSON.stringify(t)}`;
    });
    const commands = typed.some((t) => t.startsWith('command')) ? ' (commands: run, check, status, seal)' : '';
    return `unknown ${typed.join(', ')}${commands}`;
  }
  const invalid = /Argument: (\S+), Given: (.+?), Choices: (.+)$/m.exec(msg);
  if (invalid && invalid[2] === '""') return `--${invalid[1]} needs a value`;
  if (invalid) return `--${invalid[1]} ${invalid[2]} is not one of ${(invalid[3] as string).replace(/"/g, '')}`;
  const noValue = /^Not enough arguments following: (\S+)$/.exec(msg);
  if (noValue) return `--${noValue[1]} needs a value`;
  return msg;
}

/**
 * yargs renders the whole help text after starting every command handler (command.js:
 * usage.cacheHelpMessage()), only so that showHelp() would still work from inside a handler. This CLI
 * never shows help from a handler and its fail() prints none, so that render (several ms of every
 * run) is skipped. Internal API: if a yargs version lacks it, nothing changes.
 */
function skipHelpCache(cli: unknown): void {
  const internal = (
    cli as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: unknown } } }
  ).getInternalMethods?.();
  const usage = internal?.getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

async function main(controller: AbortController, argv: string[]): Promise<number> {
  let code: number = ExitCode.OK;
  await buildCli(controller, argv, (c) => (code = c)).parseAsync();
  return code;
}

/** Run the CLI for this process: signal handling, argv, exit code. */
export function start(): void {
  const controller = new AbortController();
  let interrupted: string | null = null;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = sig;
      controller.abort(new InterruptedError(sig));
    });
  }
  main(controller, hideBin(process.argv))
    .then(
      (code) => code,
      (err: unknown) => {
        // The one line about the failure (the journal's `-p err` entry), with its reason and exit code as fields.
        log ??= createLogger({ format: formatArg });
        if (err instanceof CliError) {
          const usage = err.exitCode === ExitCode.USAGE ? '; run greengrass-firstboot --help for usage' : '';
          log.error({ reason: err.reason, exitCode: err.exitCode }, `${err.message}${usage}`);
          notifyStatus(`failed (${err.reason}, exit ${err.exitCode}): ${scrubSecrets(err.message)}`);
          return err.exitCode;
        }
        const stack = scrubSecrets(String((err as Error)?.stack ?? err));
        log.fatal({ reason: 'internal', exitCode: ExitCode.INTERNAL }, `Internal error (a bug): ${stack}`);
        notifyStatus('failed: internal error');
        return ExitCode.INTERNAL;
      },
    )
    .then(async (code) => {
      process.exitCode = code;
      await flushStatus();
      // Done: don't wait for lingering handles (a finished child's stdio, keep-alive timers) to
      // drain; stdout/stderr are synchronous for files and pipes on Linux, so nothing is lost.
      process.exit(code);
    });
}
