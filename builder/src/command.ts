// How a command is written: a module exporting its options interface, its implementation (options, Context)
// and `command({...})`, which ties the yargs builder to the implementation. The options the builder declares
// must satisfy the implementation's options interface (tsc checks it), so no handler casts argv. A group
// (`claim`, `fleet`, ...) is a list of such commands; cli.ts is the list of them all.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { makeContext, type Context, type GlobalArgs } from './context.ts';

/** Registers itself on a yargs instance; `commandLine` is the raw argument list (see Context.flagValues). */
export type Command = (y: Argv<GlobalArgs>, commandLine: readonly string[]) => Argv<GlobalArgs>;

export interface CommandSpec<O extends GlobalArgs> {
  /** yargs command string, positionals included (`delete <names..>`). */
  command: string;
  describe: string;
  builder: (y: Argv<GlobalArgs>) => Argv<O>;
}

/**
 * `command({ command, describe, builder }).runs(implementation)`: the options type comes from the builder alone,
 * then the implementation's options interface is checked against it.
 */
export function command<O extends GlobalArgs>(spec: CommandSpec<O>) {
  return {
    runs(run: (options: ArgumentsCamelCase<O>, ctx: Context) => void | Promise<void>): Command {
      return (y, commandLine) =>
        y.command(spec.command, spec.describe, spec.builder, (a) => run(a, makeContext(a, commandLine)));
    },
  };
}

/** A command that only holds subcommands (`claim create`, `claim rotate`); `missing` is the error without one. */
export function commandGroup(spec: {
  command: string;
  describe: string;
  commands: Command[];
  missing: string;
}): Command {
  return (y, commandLine) =>
    y.command(
      spec.command,
      spec.describe,
      (g) => spec.commands.reduce((acc, register) => register(acc, commandLine), g).demandCommand(1, spec.missing),
      () => undefined,
    );
}
