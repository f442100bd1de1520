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
}

let printed = false;
/** Whether a command already printed its result (the CLI then prints no JSON error document). */
export function resultPrinted(): boolean {
  return printed;
}

export function makeContext(argv: GlobalArgs): Context {
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
  };
}
