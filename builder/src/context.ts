// What every command gets: global flags, progress output (stderr) and the result printer
// (stdout: human lines, or one JSON document with --json for pipelines).
export interface GlobalArgs {
  profile?: string;
  region?: string;
  json?: boolean;
  settings?: string;
}

export interface Context {
  profile?: string;
  region?: string;
  json: boolean;
  /** A progress line on stderr (never on stdout, so --json output stays parseable). */
  progress(message: string): void;
  /** Print the command's result: `human` lines normally, `data` as JSON with --json. */
  result(data: Record<string, unknown>, human: string[]): void;
  /**
   * The values the command line gives `flag` (`--flag v` or `--flag=v`; for an `array` flag, like yargs, every
   * argument up to the next option), as typed. For a flag whose parsed value yargs merges with a positional of the
   * same name (`--names`, see options.ts), this tells which one was used.
   */
  flagValues(flag: string, array?: boolean): string[];
}

let printed = false;
/** Whether a command already printed its result (the CLI then prints no JSON error document). */
export function resultPrinted(): boolean {
  return printed;
}

export function makeContext(argv: GlobalArgs, commandLine: readonly string[] = []): Context {
  const json = argv.json === true;
  return {
    profile: argv.profile,
    region: argv.region,
    json,
    progress(message) {
      process.stderr.write(`greengrass-image: ${message}\n`);
    },
    result(data, human) {
      printed = true;
      if (json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
      else process.stdout.write(human.map((l) => `${l}\n`).join(''));
    },
    flagValues(flag, array = false) {
      const values: string[] = [];
      let taking = false;
      for (const arg of commandLine) {
        if (arg === '--') break;
        if (taking && !arg.startsWith('-')) {
          values.push(arg);
          taking = array;
          continue;
        }
        taking = arg === flag;
        if (arg.startsWith(`${flag}=`)) values.push(arg.slice(flag.length + 1));
      }
      return values;
    },
  };
}
