// fleet template validate / fleet deploy / fleet summary: the real CLI against the AWS wire stand-in.
// Cores "report" through the stand-in's reportCoreDevice (what a nucleus does when it connects and
// runs the group's deployment).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  IoTClient,
  CreateThingGroupCommand,
  CreateThingCommand,
  AddThingToThingGroupCommand,
  RemoveThingFromThingGroupCommand,
} from '@aws-sdk/client-iot';
import { GreengrassV2Client, ListCoreDevicesCommand } from '@aws-sdk/client-greengrassv2';
import { ExitCode } from '../../../common/errors.ts';
import { reportCoreDevice, withGg } from '../../../standins/aws/greengrassv2.ts';
import { cliEnv, events, runCli, standin, tmp, type AwsStandin } from './fleet-helpers.ts';

const TEMPLATES = `
templates:
  - name: base
    version: 1
    components:
      aws.greengrass.Cli: { version: "2.12.0" }
  - name: base
    version: 2
    description: adds the app with its configuration
    components:
      aws.greengrass.Cli: { version: "2.12.6" }
      com.example.Hello:
        version: "1.0.4"
        configuration:
          merge: { greeting: "hi", interval: 5 }
          reset: ["/old"]
        runWith: { posixUser: "ggc_user:ggc_group" }
    deploymentPolicies:
      failureHandlingPolicy: ROLLBACK
      componentUpdateTimeoutSeconds: 90
`;

let s: AwsStandin;
let dir: string;
t.beforeEach(async () => {
  s = await standin();
  dir = tmp('gg-fleet-');
  writeFileSync(join(dir, 'templates.yaml'), TEMPLATES);
  const iot = new IoTClient({
    endpoint: s.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'Fleet' }));
  for (const n of ['core-1', 'core-2', 'core-3', 'core-4']) {
    await iot.send(new CreateThingCommand({ thingName: n }));
    await iot.send(new AddThingToThingGroupCommand({ thingName: n, thingGroupName: 'Fleet' }));
  }
  iot.destroy();
  s.requests.length = 0;
});
t.afterEach(() => s.close());

t.test('template validate lists every problem with where it is; exit 3', async (t) => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    `templates:
  - name: "has space"
    version: 0
    components:
      aws.greengrass.Cli: { version: 2.12 }
      com.x: { version: "1.0.0", configuration: { merge: [1] }, extra: 1 }
  - name: ok
    version: 1
    components: {}
  - name: ok
    version: 1
    components: { a: { version: "1.0.0" } }
    deploymentPolicies: { failureHandlingPolicy: RETRY }
`,
  );
  const r = await runCli(['fleet', 'template', 'validate', '--file', bad], cliEnv(s));
  t.equal(r.code, ExitCode.CONFIG);
  for (const re of [
    /name must be 1-64/,
    /version must be a whole number/,
    /components.aws.greengrass.Cli.version must be a semantic version.*2.12/,
    /configuration.merge must be a mapping/,
    /unknown key "extra"/,
    /components must be a non-empty mapping/,
    /version 1 of ok is defined twice/,
    /failureHandlingPolicy must be ROLLBACK or DO_NOTHING/,
  ]) {
    t.match(r.stderr, re);
  }
  const missing = await runCli(['fleet', 'template', 'validate', '--file', join(dir, 'nope.yaml')], cliEnv(s));
  t.equal(missing.code, ExitCode.CONFIG);
  t.match(missing.stderr, /cannot read templates file .*ENOENT/);
  const ok = await runCli(
    ['fleet', 'template', 'validate', '--file', join(dir, 'templates.yaml'), '--json'],
    cliEnv(s),
  );
  t.equal(ok.code, 0, ok.stderr);
  t.same(
    JSON.parse(ok.stdout).templates.map((x: { name: string; version: number }) => `${x.name}@${x.version}`),
    ['base@1', 'base@2'],
  );
  t.equal(s.requests.length, 0, 'validate makes no AWS call');
});

t.test(
  'deploy: one CreateDeployment to the thing group ARN, template recorded in name and tags; bad groups refused first',
  async (t) => {
    const ev = join(dir, 'events.jsonl');
    const r = await runCli(
      [
        'fleet',
        'deploy',
        '--file',
        join(dir, 'templates.yaml'),
        '--template',
        'base',
        '--thing-group',
        'Fleet',
        '--events',
        ev,
        '--json',
      ],
      cliEnv(s),
    );
    t.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    t.equal(out.templateVersion, 2, 'highest version by default');
    const req = s.calls('CreateDeployment');
    t.equal(req.length, 1);
    t.equal(req[0].status, 201);
    const body = req[0].body as Record<string, any>;
    t.equal(body.targetArn, s.state.thingGroups.Fleet.thingGroupArn);
    t.equal(body.deploymentName, 'base@2');
    t.same(body.tags, { 'greengrass-image:template': 'base', 'greengrass-image:template-version': '2' });
    t.same(body.components['aws.greengrass.Cli'], { componentVersion: '2.12.6' });
    t.same(body.components['com.example.Hello'], {
      componentVersion: '1.0.4',
      configurationUpdate: { merge: '{"greeting":"hi","interval":5}', reset: ['/old'] },
      runWith: { posixUser: 'ggc_user:ggc_group' },
    });
    t.same(body.deploymentPolicies, {
      failureHandlingPolicy: 'ROLLBACK',
      componentUpdatePolicy: { timeoutInSeconds: 90, action: 'NOTIFY_COMPONENTS' },
    });
    t.match(body.clientToken, /^[0-9a-f-]{36}$/, 'SDK idempotency token sent');
    const stored = withGg(s.state).gg.deployments[out.deploymentId];
    t.equal(stored.deploymentName, 'base@2');
    t.same(
      events(ev).map((e) => [e.type, e.deploymentId, e.template, e.templateVersion]),
      [['deployment.created', out.deploymentId, 'base', 2]],
    );

    const v1 = await runCli(
      [
        'fleet',
        'deploy',
        '--file',
        join(dir, 'templates.yaml'),
        '--template',
        'base',
        '--template-version',
        '1',
        '--thing-group',
        'Fleet',
        '--json',
      ],
      cliEnv(s),
    );
    t.equal(v1.code, 0, v1.stderr);
    t.equal((s.calls('CreateDeployment')[1].body as Record<string, any>).deploymentName, 'base@1');

    s.requests.length = 0;
    for (const [g, re] of [
      ['Fl:eet', /contains ':'/],
      ['Flëet', /non-ASCII/],
      ['', /empty/],
    ] as const) {
      const b = await runCli(
        ['fleet', 'deploy', '--file', join(dir, 'templates.yaml'), '--template', 'base', '--thing-group', g],
        cliEnv(s),
      );
      t.equal(b.code, ExitCode.USAGE, g);
      t.match(b.stderr, re);
    }
    const unknown = await runCli(
      ['fleet', 'deploy', '--file', join(dir, 'templates.yaml'), '--template', 'nope', '--thing-group', 'Fleet'],
      cliEnv(s),
    );
    t.equal(unknown.code, ExitCode.CONFIG);
    t.match(unknown.stderr, /no template named "nope" \(have: base\)/);
    t.equal(s.requests.length, 0, 'no AWS call for bad input');
    const noGroup = await runCli(
      ['fleet', 'deploy', '--file', join(dir, 'templates.yaml'), '--template', 'base', '--thing-group', 'Missing'],
      cliEnv(s),
    );
    t.equal(noGroup.code, ExitCode.CONFIG);
    t.match(noGroup.stderr, /thing group Missing does not exist/);
    t.equal(s.calls('CreateDeployment').length, 0);
  },
);

t.test('deploy --events that cannot be appended to: config error (3), no deployment created', async (t) => {
  const r = await runCli(
    [
      'fleet',
      'deploy',
      '--file',
      join(dir, 'templates.yaml'),
      '--template',
      'base',
      '--thing-group',
      'Fleet',
      '--events',
      dir,
    ],
    cliEnv(s),
  );
  t.equal(r.code, ExitCode.CONFIG, r.stderr);
  t.match(r.stderr, /cannot append to the event log .*EISDIR/);
  t.notMatch(r.stderr, /internal error/);
  t.equal(s.requests.length, 0, 'no AWS call');
  t.same(withGg(s.state).gg.deployments, {});
});

t.test('summary: desired vs reported per template version, health, never-reported Things first', async (t) => {
  const d1 = JSON.parse(
    (
      await runCli(
        [
          'fleet',
          'deploy',
          '--file',
          join(dir, 'templates.yaml'),
          '--template',
          'base',
          '--template-version',
          '1',
          '--thing-group',
          'Fleet',
          '--json',
        ],
        cliEnv(s),
      )
    ).stdout,
  ).deploymentId;
  reportCoreDevice(s.state, { thingName: 'core-1', executionStatus: 'SUCCEEDED' });
  reportCoreDevice(s.state, { thingName: 'core-2', executionStatus: 'SUCCEEDED' });
  const d2 = JSON.parse(
    (
      await runCli(
        [
          'fleet',
          'deploy',
          '--file',
          join(dir, 'templates.yaml'),
          '--template',
          'base',
          '--thing-group',
          'Fleet',
          '--json',
        ],
        cliEnv(s),
      )
    ).stdout,
  ).deploymentId;
  t.not(d1, d2);
  reportCoreDevice(s.state, { thingName: 'core-1', executionStatus: 'SUCCEEDED' });
  reportCoreDevice(s.state, { thingName: 'core-3', executionStatus: 'FAILED', status: 'UNHEALTHY' });
  // core-2 still runs base@1; core-4 never reported (failed first boot).
  s.requests.length = 0;
  const r = await runCli(['fleet', 'summary', '--thing-group', 'Fleet', '--json'], cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  const sum = JSON.parse(r.stdout);
  t.same(sum.neverReported, ['core-4']);
  t.equal(sum.things, 4);
  t.equal(sum.coreDevices, 3);
  t.equal(sum.unhealthy, 1);
  t.same(sum.latestDeployment, { deploymentId: d2, template: 'base@2' });
  const byT = Object.fromEntries(sum.templates.map((x: Record<string, unknown>) => [x.template, x]));
  t.same(byT['base@2'], {
    template: 'base@2',
    latest: true,
    desiredInUse: 4,
    reportedInUse: 1,
    lastDeploymentSucceeded: 1,
    lastDeploymentFailed: 1,
    lastDeploymentInProgress: 0,
  });
  t.same(byT['base@1'], {
    template: 'base@1',
    latest: false,
    desiredInUse: 0,
    reportedInUse: 1,
    lastDeploymentSucceeded: 1,
    lastDeploymentFailed: 0,
    lastDeploymentInProgress: 0,
  });
  const core = Object.fromEntries(sum.cores.map((c: Record<string, any>) => [c.name, c]));
  t.same([core['core-1'].status, core['core-1'].installedTemplate], ['HEALTHY', 'base@2']);
  t.same(
    [core['core-2'].installedTemplate, core['core-2'].lastDeployment],
    ['base@1', { template: 'base@1', status: 'SUCCEEDED' }],
  );
  t.same(
    [core['core-3'].status, core['core-3'].installedTemplate, core['core-3'].lastDeployment.status],
    ['UNHEALTHY', null, 'FAILED'],
  );
  t.match(core['core-1'].lastSeen, /^\d{4}-\d\d-\d\dT/);
  t.same(
    s
      .calls('GetCoreDevice')
      .map((q) => q.status)
      .sort(),
    [200, 200, 200, 404],
    'each Thing asked once: three cores, one never reported',
  );
  t.equal(s.calls('ListCoreDevices').length, 0);
  t.equal(s.calls('ListEffectiveDeployments').length, 3);
  t.equal(s.calls('GetDeployment').length, 2, 'each deployment read once (cached)');
  t.equal(s.requests.filter((q) => q.method !== 'GET').length, 0, 'summary only reads');

  const human = await runCli(['fleet', 'summary', '--thing-group', 'Fleet'], cliEnv(s));
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /never reported \(1\): core-4/);
  t.match(human.stdout, /base@2 \*\s+4\s+1\s+1\s+1\s+0/);
});

t.test('summary --concurrency that is not 1-64: usage error, no AWS call (never a report of 0 cores)', async (t) => {
  reportCoreDevice(s.state, { thingName: 'core-1' });
  for (const c of ['abc', '0', '100']) {
    const r = await runCli(['fleet', 'summary', '--thing-group', 'Fleet', '--concurrency', c, '--json'], cliEnv(s));
    t.equal(r.code, ExitCode.USAGE, r.stderr);
    t.match(r.stderr, /--concurrency must be a whole number from 1 to 64/);
    t.same(JSON.parse(r.stdout).error.reason, 'usage');
  }
  t.equal(s.requests.length, 0);
});

t.test(
  'summary: Greengrass 429 with Retry-After is retried; persistent throttling is exit 4 naming the call',
  async (t) => {
    reportCoreDevice(s.state, { thingName: 'core-1' });
    s.injectFault('GetCoreDevice', { kind: 'throttle', retryAfterSeconds: 0 }, 1);
    const r = await runCli(['fleet', 'summary', '--thing-group', 'Fleet', '--json', '--concurrency', '1'], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    t.same(
      s.calls('GetCoreDevice').map((q) => q.status),
      [429, 200, 404, 404, 404],
    );
    t.same(JSON.parse(r.stdout).neverReported, ['core-2', 'core-3', 'core-4']);
    s.injectFault('ListEffectiveDeployments', { kind: 'throttle', retryAfterSeconds: 0 }, 3);
    const f = await runCli(['fleet', 'summary', '--thing-group', 'Fleet'], cliEnv(s));
    t.equal(f.code, ExitCode.AWS);
    t.match(f.stderr, /ListEffectiveDeployments core-1 failed: ThrottlingException.*HTTP 429, 3 attempts/);
  },
);

t.test(
  'summary: cores that connected but have not deployed for the group yet, or whose deployment failed, are core devices, not "never reported"; a core that left the group is not counted',
  async (t) => {
    const gg = new GreengrassV2Client({
      endpoint: s.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    const fleetArn = s.state.thingGroups.Fleet.thingGroupArn;
    // Before any deployment: three clones booted and connected (a nucleus reports itself when it starts).
    for (const n of ['core-1', 'core-2', 'core-3']) reportCoreDevice(s.state, { thingName: n });
    t.same(
      (await gg.send(new ListCoreDevicesCommand({ thingGroupArn: fleetArn }))).coreDevices,
      [],
      "the stand-in's thingGroupArn filter, as AWS documents it: only cores that deployed for the group",
    );
    let sum = JSON.parse((await runCli(['fleet', 'summary', '--thing-group', 'Fleet', '--json'], cliEnv(s))).stdout);
    t.same(sum.neverReported, ['core-4']);
    t.equal(sum.coreDevices, 3);
    t.same(sum.latestDeployment, null);

    await runCli(
      [
        'fleet',
        'deploy',
        '--file',
        join(dir, 'templates.yaml'),
        '--template',
        'base',
        '--thing-group',
        'Fleet',
        '--json',
      ],
      cliEnv(s),
    );
    reportCoreDevice(s.state, { thingName: 'core-1', executionStatus: 'SUCCEEDED' });
    reportCoreDevice(s.state, { thingName: 'core-2', executionStatus: 'FAILED', status: 'UNHEALTHY' });
    // core-1 then leaves the group: ListCoreDevices' filter keeps listing it (AWS does), the summary must not.
    const iot = new IoTClient({
      endpoint: s.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    await iot.send(new RemoveThingFromThingGroupCommand({ thingName: 'core-1', thingGroupName: 'Fleet' }));
    iot.destroy();
    t.same(
      (await gg.send(new ListCoreDevicesCommand({ thingGroupArn: fleetArn }))).coreDevices?.map(
        (d) => d.coreDeviceThingName,
      ),
      ['core-1'],
    );
    gg.destroy();
    sum = JSON.parse((await runCli(['fleet', 'summary', '--thing-group', 'Fleet', '--json'], cliEnv(s))).stdout);
    t.equal(sum.things, 3);
    t.same(sum.neverReported, ['core-4']);
    t.same(
      sum.cores.map((c: Record<string, unknown>) => c.name),
      ['core-2', 'core-3'],
    );
    const base2 = sum.templates.find((x: Record<string, unknown>) => x.template === 'base@2');
    t.same(
      [base2.desiredInUse, base2.lastDeploymentFailed, base2.lastDeploymentSucceeded],
      [3, 1, 0],
      'the failed core counts as failed, the departed one not at all',
    );
  },
);

t.test(
  'summary --rate spaces the per-core calls; a rate that is not positive is a usage error before any call',
  async (t) => {
    for (const n of ['core-1', 'core-2', 'core-3']) reportCoreDevice(s.state, { thingName: n });
    const r = await runCli(['fleet', 'summary', '--thing-group', 'Fleet', '--rate', '10', '--json'], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    const calls = s.requests;
    const span = (calls.at(-1)!.at - calls[0]!.at) / 1000;
    // Spaced by the client, seen at the server: allow one interval for the first call's connection set-up.
    t.ok(span >= (calls.length - 2) / 10, `${calls.length} calls spread over ${span} s at 10/s`);
    s.requests.length = 0;
    const bad = await runCli(['fleet', 'summary', '--thing-group', 'Fleet', '--rate', '0'], cliEnv(s));
    t.equal(bad.code, ExitCode.USAGE, bad.stderr);
    t.match(bad.stderr, /--rate must be a positive number of calls per second/);
    t.equal(s.requests.length, 0);
  },
);
