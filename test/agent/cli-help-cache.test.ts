// yargs renders the whole help text after starting each command handler (so showHelp() would work inside
// one); the CLI skips that render (agent/src/cli.ts skipHelpCache). --help still renders it.
import t from 'tap';
import { buildCli } from '../../agent/src/cli.ts';

type Usage = { help: (...a: unknown[]) => string };
function countHelpRenders(argv: string[]): { cli: ReturnType<typeof buildCli>; renders: () => number } {
  const cli = buildCli(new AbortController(), argv, () => {});
  const usage = (cli as unknown as { getInternalMethods: () => { getUsageInstance: () => Usage } })
    .getInternalMethods()
    .getUsageInstance();
  let renders = 0;
  const help = usage.help;
  usage.help = function (this: unknown, ...a: unknown[]) {
    renders++;
    return help.apply(this, a);
  };
  return { cli, renders: () => renders };
}

t.test('running a command renders no help text', async (t) => {
  const { cli, renders } = countHelpRenders(['status', '--config', '/nonexistent/agent.yaml']);
  await t.rejects(cli.parseAsync(), /cannot read agent config/);
  t.equal(renders(), 0);
});

t.test('--help still renders it', async (t) => {
  const { cli, renders } = countHelpRenders(['--help']);
  const out: string[] = [];
  const log = console.log;
  console.log = (s: string) => out.push(s);
  try {
    await cli.parseAsync();
  } finally {
    console.log = log;
  }
  t.ok(renders() > 0);
  t.match(out.join('\n'), /greengrass-firstboot run/);
});
