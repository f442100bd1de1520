// One convention for the thing names a command acts on: arguments (`cores delete a b`, `devices delete a b`,
// `cores create a b`, `devices create a b`). The older `--names a,b` still works, with a deprecation warning;
// both at once are refused (yargs would keep only the arguments, silently dropping the flag's names).
import t from 'tap';
import { join } from 'node:path';
import { ExitCode } from '../../../common/errors.ts';
import { reportCoreDevice, withGg } from '../../../standins/aws/greengrassv2.ts';
import { cliEnv, runCli, standin, things, tmp, type AwsStandin } from './fleet-helpers.ts';

const DEPRECATED = /warning: --names is deprecated: give the names as arguments/;

let s: AwsStandin;
let dir: string;
t.before(async () => {
  s = await standin(['GreengrassV2IoTThingPolicy', 'GreengrassClientDevicePolicy']);
  dir = tmp('gg-names-');
});
t.teardown(() => s.close());

t.test('cores create takes the names as arguments; --names still works and says it is deprecated', async (t) => {
  const base = ['cores', 'create', '--thing-group', 'Fleet', '--output', join(dir, 'cores')];
  const positional = await runCli([...base, 'core-a', 'core-b'], cliEnv(s));
  t.equal(positional.code, 0, positional.stderr);
  t.notMatch(positional.stderr, DEPRECATED);
  const flag = await runCli([...base, '--names', 'core-c,core-d'], cliEnv(s));
  t.equal(flag.code, 0, flag.stderr);
  t.match(flag.stderr, DEPRECATED);
  t.ok(
    ['core-a', 'core-b', 'core-c', 'core-d'].every((n) => things(s)[n]),
    'all four Things exist',
  );
});

t.test('cores delete: arguments and --names make the same plan', async (t) => {
  const positional = await runCli(['cores', 'delete', 'core-a', 'core-b', '--deprovision', '--json'], cliEnv(s));
  t.equal(positional.code, 0, positional.stderr);
  t.notMatch(positional.stderr, DEPRECATED);
  const flag = await runCli(['cores', 'delete', '--names', 'core-a,core-b', '--deprovision', '--json'], cliEnv(s));
  t.equal(flag.code, 0, flag.stderr);
  t.match(flag.stderr, DEPRECATED);
  const plan = (r: { stdout: string }) => JSON.parse(r.stdout).plan;
  t.same(
    plan(positional).map((p: { core: string }) => p.core),
    ['core-a', 'core-b'],
  );
  t.same(plan(flag), plan(positional));
});

t.test('devices create and delete take the names as arguments; --names still works', async (t) => {
  reportCoreDevice(s.state, { thingName: 'core-a' });
  const out = join(dir, 'dev');
  const created = await runCli(['devices', 'create', 'sensor-1', '--core', 'core-a', '--output', out], cliEnv(s));
  t.equal(created.code, 0, created.stderr);
  const flagCreated = await runCli(
    ['devices', 'create', '--core', 'core-a', '--names', 'sensor-2', '--output', out],
    cliEnv(s),
  );
  t.equal(flagCreated.code, 0, flagCreated.stderr);
  t.match(flagCreated.stderr, DEPRECATED);
  t.same(
    withGg(s.state).gg.clientDevices['core-a'].map((d) => d.thingName),
    ['sensor-1', 'sensor-2'],
  );

  const deleted = await runCli(['devices', 'delete', 'sensor-1', '--core', 'core-a', '--yes'], cliEnv(s));
  t.equal(deleted.code, 0, deleted.stderr);
  t.notMatch(deleted.stderr, DEPRECATED);
  const flagDeleted = await runCli(
    ['devices', 'delete', '--core', 'core-a', '--names', 'sensor-2', '--yes'],
    cliEnv(s),
  );
  t.equal(flagDeleted.code, 0, flagDeleted.stderr);
  t.match(flagDeleted.stderr, DEPRECATED);
  t.same(withGg(s.state).gg.clientDevices['core-a'] ?? [], [], 'both disassociated');
});

t.test('names as arguments and --names together: usage error, nothing done', async (t) => {
  for (const args of [
    ['cores', 'delete', 'core-a', '--names', 'core-b', '--yes'],
    ['devices', 'delete', 'sensor-1', '--core', 'core-a', '--names', 'sensor-2', '--yes'],
    ['cores', 'create', 'core-x', '--names', 'core-y', '--thing-group', 'Fleet', '--output', join(dir, 'cores')],
  ]) {
    s.requests.length = 0;
    const r = await runCli(args, cliEnv(s));
    t.equal(r.code, ExitCode.USAGE, `${args.join(' ')}: ${r.stderr}`);
    t.match(r.stderr, /give the names as arguments or with --names, not both/);
    t.same(
      s.requests.map((q) => q.op),
      [],
      'no AWS call',
    );
  }
});

t.test('no names at all: usage error naming the arguments', async (t) => {
  const r = await runCli(['cores', 'delete', '--yes'], cliEnv(s));
  t.equal(r.code, ExitCode.USAGE);
  t.match(r.stderr, /give the core names as arguments/);
  const d = await runCli(['devices', 'delete', '--core', 'core-a', '--yes'], cliEnv(s));
  t.equal(d.code, ExitCode.USAGE);
  t.match(d.stderr, /give the device names as arguments/);
});
