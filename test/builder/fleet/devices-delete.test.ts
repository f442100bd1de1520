// devices create / delete and cores delete (decommission): the real CLI against the AWS wire
// stand-in, asserting the requests it received (and their order) and the state it holds after.
import t from 'tap';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../../common/errors.ts';
import { reportCoreDevice, withGg } from '../../../standins/aws/greengrassv2.ts';
import { withThings } from '../../../standins/aws/iot-fleet.ts';
import { cliEnv, events, faultOnNth, runCli, standin, things, tmp, type AwsStandin } from './fleet-helpers.ts';

let s: AwsStandin;
let dir: string;
t.beforeEach(async () => {
  s = await standin(['GreengrassV2IoTThingPolicy', 'GreengrassClientDevicePolicy']);
  dir = tmp('gg-dev-');
  const r = await runCli(
    ['cores', 'create', '--names', 'core-a', '--thing-group', 'Fleet', '--output', join(dir, 'cores')],
    cliEnv(s),
  );
  if (r.code !== 0) throw new Error(r.stderr);
  s.requests.length = 0;
});
t.afterEach(() => s.close());

t.test(
  'devices create needs a core that registered; then Thing, cert, policy, association; re-run associates nothing twice',
  async (t) => {
    const ev = join(dir, 'events.jsonl');
    const args = [
      'devices',
      'create',
      '--core',
      'core-a',
      '--names',
      'sensor-1,sensor-2',
      '--output',
      join(dir, 'dev'),
      '--events',
      ev,
      '--json',
    ];
    const early = await runCli(args, cliEnv(s));
    t.equal(early.code, ExitCode.CONFIG);
    t.match(early.stderr, /core core-a is not a Greengrass core device/);
    t.notOk(things(s)['sensor-1'], 'nothing created for a core that never connected');

    reportCoreDevice(s.state, { thingName: 'core-a' });
    const r = await runCli(args, cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    t.same(JSON.parse(r.stdout).associated, 2);
    const assoc = s.calls('BatchAssociateClientDeviceWithCoreDevice');
    t.equal(assoc.length, 1);
    t.equal(assoc[0].path, '/greengrass/v2/coreDevices/core-a/associateClientDevices');
    t.same(assoc[0].body, { entries: [{ thingName: 'sensor-1' }, { thingName: 'sensor-2' }] });
    t.same(
      withGg(s.state).gg.clientDevices['core-a'].map((d) => d.thingName),
      ['sensor-1', 'sensor-2'],
    );
    for (const n of ['sensor-1', 'sensor-2']) {
      const rec = JSON.parse(readFileSync(join(dir, 'dev', n, 'certs', 'certificate.json'), 'utf8'));
      t.same(s.state.certificates[rec.certificateId].policies, ['GreengrassClientDevicePolicy']);
      t.same(things(s)[n].principals, [rec.certificateArn]);
      t.equal(statSync(join(dir, 'dev', n, 'certs', 'private.pem.key')).mode & 0o777, 0o600);
    }
    t.same(
      events(ev).map((e) => [e.type, e.thingName, e.coreDeviceThingName]),
      [
        ['device.created', 'sensor-1', 'core-a'],
        ['device.created', 'sensor-2', 'core-a'],
      ],
    );

    s.requests.length = 0;
    const again = await runCli(args, cliEnv(s));
    t.equal(again.code, 0, again.stderr);
    t.equal(s.calls('CreateKeysAndCertificate').length, 0, 'certificates reused');
    t.equal(s.calls('BatchAssociateClientDeviceWithCoreDevice').length, 0, 'already associated');
    t.equal(Object.keys(s.state.certificates).length, 3);
  },
);

t.test(
  'devices create --concurrency that is not 1-64: usage error before any AWS call, nothing associated',
  async (t) => {
    reportCoreDevice(s.state, { thingName: 'core-a' });
    for (const c of ['abc', '0', '65']) {
      const r = await runCli(
        [
          'devices',
          'create',
          '--core',
          'core-a',
          '--names',
          'sensor-1',
          '--output',
          join(dir, 'dev'),
          '--concurrency',
          c,
        ],
        cliEnv(s),
      );
      t.equal(r.code, ExitCode.USAGE, r.stderr);
      t.match(r.stderr, /--concurrency must be a whole number from 1 to 64/);
    }
    t.equal(s.requests.length, 0, 'no AWS call (no BatchAssociateClientDeviceWithCoreDevice)');
    t.notOk(existsSync(join(dir, 'dev')), 'no output folder');
  },
);

t.test(
  'devices create/delete, cores delete: --events that cannot be appended to is a config error before any AWS call',
  async (t) => {
    reportCoreDevice(s.state, { thingName: 'core-a' });
    for (const args of [
      ['devices', 'create', '--core', 'core-a', '--names', 'sensor-1', '--output', join(dir, 'dev')],
      ['devices', 'delete', '--core', 'core-a', '--names', 'sensor-1', '--yes'],
      ['cores', 'delete', 'core-a', '--yes'],
    ]) {
      const r = await runCli([...args, '--events', dir], cliEnv(s));
      t.equal(r.code, ExitCode.CONFIG, `${args.join(' ')}: ${r.stderr}`);
      t.match(r.stderr, /cannot append to the event log .*EISDIR/);
    }
    t.equal(s.requests.length, 0, 'no AWS call');
    t.ok(s.state.coreDevices['core-a'], 'core device not deleted');
  },
);

t.test(
  'cores delete: dry run by default changes nothing; --yes disassociates and deletes the core device; --deprovision removes cert and Thing in order',
  async (t) => {
    reportCoreDevice(s.state, { thingName: 'core-a' });
    t.equal(
      (
        await runCli(
          ['devices', 'create', '--core', 'core-a', '--names', 'sensor-1', '--output', join(dir, 'dev')],
          cliEnv(s),
        )
      ).code,
      0,
    );
    const certId = JSON.parse(
      readFileSync(join(dir, 'cores', 'core-a', 'certs', 'certificate.json'), 'utf8'),
    ).certificateId;
    const ev = join(dir, 'events.jsonl');

    s.requests.length = 0;
    const dry = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--events', ev, '--json'], cliEnv(s));
    t.equal(dry.code, 0, dry.stderr);
    const plan = JSON.parse(dry.stdout);
    t.equal(plan.dryRun, true);
    t.same(plan.plan[0].steps, [
      'disassociate client device(s) sensor-1 from core core-a',
      'delete Greengrass core device core-a',
      `record certificate(s) ${certId} and policy GreengrassCorePolicy-core-a on thing core-a (attribute greengrass-image-decommission, for a resumed run)`,
      `detach policy GreengrassCorePolicy-core-a from certificate ${certId}`,
      `detach certificate ${certId} from thing core-a`,
      `deactivate certificate ${certId}`,
      `delete certificate ${certId}`,
      "delete policy GreengrassCorePolicy-core-a (core core-a's own)",
      'remove thing core-a from thing group Fleet',
      'delete thing core-a',
    ]);
    const reads = ['ListAttachedPolicies', 'ListTargetsForPolicy']; // POSTs that only read
    t.equal(
      s.requests.filter((q) => !['GET'].includes(q.method) && !reads.includes(q.op)).length,
      0,
      'dry run only reads',
    );
    t.ok(s.state.coreDevices['core-a'] && things(s)['core-a'] && s.state.certificates[certId]);
    t.same(events(ev), []);

    s.requests.length = 0;
    const r = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--yes', '--events', ev], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    const writes = s.requests.filter((q) => q.method !== 'GET' && !reads.includes(q.op)).map((q) => q.op);
    t.same(writes, [
      'BatchDisassociateClientDeviceFromCoreDevice',
      'DeleteCoreDevice',
      'UpdateThing',
      'DetachPolicy',
      'DetachThingPrincipal',
      'UpdateCertificate',
      'DeleteCertificate',
      'DeletePolicy',
      'RemoveThingFromThingGroup',
      'DeleteThing',
    ]);
    t.same(s.calls('UpdateCertificate')[0].query, { newStatus: 'INACTIVE' });
    t.notOk(s.state.coreDevices['core-a']);
    t.notOk(things(s)['core-a']);
    t.notOk(s.state.certificates[certId]);
    t.same(s.state.thingGroups.Fleet.things, []);
    t.ok(things(s)['sensor-1'], 'the client device Thing itself stays (devices delete removes it)');
    t.same(
      events(ev).map((e) => [e.type, e.thingName, e.deprovisioned]),
      [['core.deleted', 'core-a', true]],
    );

    s.requests.length = 0;
    const again = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--yes', '--events', ev], cliEnv(s));
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /nothing to do/);
    t.equal(events(ev).length, 1, 'no event for a no-op');
  },
);

t.test(
  'cores delete failing half-way (500 x3 on DeleteCertificate): exit 4, the re-run finishes the rest',
  async (t) => {
    faultOnNth(s, 'DeleteCertificate', 1, { kind: 'error', status: 500 }, 3);
    const r = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--yes'], cliEnv(s));
    t.equal(r.code, ExitCode.AWS);
    t.match(r.stderr, /DeleteCertificate [0-9a-f]{64} failed: InternalFailureException/);
    t.ok(things(s)['core-a'], 'Thing still there');
    t.same(things(s)['core-a'].principals, [], 'certificate detached before the failure');
    t.equal(Object.keys(s.state.certificates).length, 1, 'certificate not deleted yet');
    s.requests.length = 0;
    const r2 = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--yes'], cliEnv(s));
    t.equal(r2.code, 0, r2.stderr);
    // The certificate is already detached from the Thing: the re-run finds it through the recorded attribute.
    const reads = ['ListAttachedPolicies', 'ListTargetsForPolicy'];
    const writes = s.requests.filter((q) => q.method !== 'GET' && !reads.includes(q.op)).map((q) => q.op);
    t.same(writes, [
      'UpdateCertificate',
      'DeleteCertificate',
      'DeletePolicy',
      'RemoveThingFromThingGroup',
      'DeleteThing',
    ]);
    t.notOk(things(s)['core-a']);
    t.same(Object.keys(s.state.certificates), []);
  },
);

t.test('devices delete: dry run, then disassociate + deprovision', async (t) => {
  reportCoreDevice(s.state, { thingName: 'core-a' });
  t.equal(
    (
      await runCli(
        ['devices', 'create', '--core', 'core-a', '--names', 'sensor-1,sensor-2', '--output', join(dir, 'dev')],
        cliEnv(s),
      )
    ).code,
    0,
  );
  const ev = join(dir, 'events.jsonl');
  s.requests.length = 0;
  const dry = await runCli(
    ['devices', 'delete', '--core', 'core-a', '--names', 'sensor-1', '--deprovision', '--events', ev],
    cliEnv(s),
  );
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /dry run/);
  t.equal(withGg(s.state).gg.clientDevices['core-a'].length, 2);
  const r = await runCli(
    ['devices', 'delete', '--core', 'core-a', '--names', 'sensor-1', '--deprovision', '--yes', '--events', ev],
    cliEnv(s),
  );
  t.equal(r.code, 0, r.stderr);
  t.same(
    s.calls('BatchDisassociateClientDeviceFromCoreDevice').map((q) => q.body),
    [{ entries: [{ thingName: 'sensor-1' }] }],
  );
  t.same(
    withGg(s.state).gg.clientDevices['core-a'].map((d) => d.thingName),
    ['sensor-2'],
  );
  t.notOk(things(s)['sensor-1']);
  t.ok(things(s)['sensor-2']);
  t.same(
    events(ev).map((e) => [e.type, e.thingName]),
    [['device.deleted', 'sensor-1']],
  );
  t.ok(existsSync(join(dir, 'dev', 'sensor-2', 'certs', 'private.pem.key')));
});

t.test(
  'devices delete: a device the batch disassociation reports as failed (HTTP 200, errorEntries) is exit 4 naming it; its Thing and certificate stay, no event',
  async (t) => {
    reportCoreDevice(s.state, { thingName: 'core-a' });
    t.equal(
      (
        await runCli(
          ['devices', 'create', '--core', 'core-a', '--names', 'sensor-1', '--output', join(dir, 'dev')],
          cliEnv(s),
        )
      ).code,
      0,
    );
    const ev = join(dir, 'events.jsonl');
    withGg(s.state).gg.entryFaults['sensor-1'] = { code: 'InternalServerException', message: 'try again' };
    s.requests.length = 0;
    const r = await runCli(
      ['devices', 'delete', '--core', 'core-a', '--names', 'sensor-1', '--deprovision', '--yes', '--events', ev],
      cliEnv(s),
    );
    t.equal(r.code, ExitCode.AWS, r.stderr);
    t.match(
      r.stderr,
      /BatchDisassociateClientDeviceFromCoreDevice core-a: sensor-1: InternalServerException try again/,
    );
    t.same(
      withGg(s.state).gg.clientDevices['core-a'].map((d) => d.thingName),
      ['sensor-1'],
      'still associated',
    );
    t.ok(things(s)['sensor-1'], 'Thing not deleted');
    t.equal(
      s.calls('DeleteCertificate').length + s.calls('DeleteThing').length + s.calls('UpdateCertificate').length,
      0,
      'nothing deprovisioned',
    );
    t.notOk(existsSync(ev) && readFileSync(ev, 'utf8').includes('device.deleted'), 'no device.deleted event');

    delete withGg(s.state).gg.entryFaults['sensor-1'];
    const again = await runCli(
      ['devices', 'delete', '--core', 'core-a', '--names', 'sensor-1', '--deprovision', '--yes', '--events', ev],
      cliEnv(s),
    );
    t.equal(again.code, 0, again.stderr);
    t.notOk(things(s)['sensor-1']);
    t.same(withGg(s.state).gg.clientDevices['core-a'], []);
  },
);

t.test('cores delete: a client device whose disassociation fails stops the core before DeleteCoreDevice', async (t) => {
  reportCoreDevice(s.state, { thingName: 'core-a' });
  t.equal(
    (
      await runCli(
        ['devices', 'create', '--core', 'core-a', '--names', 'sensor-1', '--output', join(dir, 'dev')],
        cliEnv(s),
      )
    ).code,
    0,
  );
  withGg(s.state).gg.entryFaults['sensor-1'] = { code: 'ConflictException', message: 'busy' };
  s.requests.length = 0;
  const r = await runCli(['cores', 'delete', 'core-a', '--yes'], cliEnv(s));
  t.equal(r.code, ExitCode.AWS, r.stderr);
  t.match(r.stderr, /sensor-1: ConflictException busy/);
  t.equal(s.calls('DeleteCoreDevice').length, 0);
  t.ok(s.state.coreDevices['core-a'], 'core device still there');
});

t.test(
  "devices delete naming the core itself: usage error before any AWS call (it would delete the core's identity)",
  async (t) => {
    reportCoreDevice(s.state, { thingName: 'core-a' });
    const r = await runCli(
      ['devices', 'delete', '--core', 'core-a', '--names', 'sensor-9,core-a', '--deprovision', '--yes'],
      cliEnv(s),
    );
    t.equal(r.code, ExitCode.USAGE, r.stderr);
    t.match(r.stderr, /device name core-a is the core's own name/);
    t.equal(s.requests.length, 0);
    t.ok(things(s)['core-a']);
  },
);

t.test(
  'cores delete --deprovision: DeleteCertificate answered 409 while the detach from the thing propagates is retried, then passes',
  async (t) => {
    withThings(s.state).detachPropagationCalls = 2;
    const r = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--yes'], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    t.same(
      s.calls('DeleteCertificate').map((q) => q.status),
      [409, 409, 200],
      'retried until the detach propagated',
    );
    t.same(Object.keys(s.state.certificates), []);
    t.notOk(things(s)['core-a']);
  },
);

t.test(
  "devices delete --deprovision naming another core: usage error before anything changes (it would delete that core's identity)",
  async (t) => {
    reportCoreDevice(s.state, { thingName: 'core-a' });
    t.equal(
      (
        await runCli(
          ['cores', 'create', '--names', 'core-b', '--thing-group', 'Fleet', '--output', join(dir, 'cores-b')],
          cliEnv(s),
        )
      ).code,
      0,
    );
    reportCoreDevice(s.state, { thingName: 'core-b' });
    s.requests.length = 0;
    const r = await runCli(
      ['devices', 'delete', '--core', 'core-a', '--names', 'core-b', '--deprovision', '--yes'],
      cliEnv(s),
    );
    t.equal(r.code, ExitCode.USAGE, r.stderr);
    t.match(r.stderr, /core-b is a Greengrass core device, not a client device: use cores delete core-b/);
    t.ok(
      things(s)['core-b'] && things(s)['core-b'].principals.length === 1,
      "core-b's Thing and certificate untouched",
    );
    t.equal(s.requests.filter((q) => q.method !== 'GET').length, 0, 'nothing but reads');
  },
);

t.test(
  "devices create naming a Thing that holds another machine's certificate (e.g. a core): config error, no second certificate",
  async (t) => {
    reportCoreDevice(s.state, { thingName: 'core-a' });
    t.equal(
      (
        await runCli(
          ['cores', 'create', '--names', 'core-b', '--thing-group', 'Fleet', '--output', join(dir, 'cores-b')],
          cliEnv(s),
        )
      ).code,
      0,
    );
    const certs = Object.keys(s.state.certificates).length;
    const r = await runCli(
      ['devices', 'create', '--core', 'core-a', '--names', 'core-b', '--output', join(dir, 'dev')],
      cliEnv(s),
    );
    t.equal(r.code, ExitCode.CONFIG, r.stderr);
    t.match(r.stderr, /thing core-b already has certificate\(s\) [0-9a-f]{64} attached .*another machine's identity/);
    t.equal(Object.keys(s.state.certificates).length, certs, 'no certificate made');
    t.equal(things(s)['core-b'].principals.length, 1);
  },
);

t.test(
  'devices delete: a device whose Thing is already gone (error entry ResourceNotFoundException) counts as disassociated',
  async (t) => {
    reportCoreDevice(s.state, { thingName: 'core-a' });
    t.equal(
      (
        await runCli(
          ['devices', 'create', '--core', 'core-a', '--names', 'sensor-1', '--output', join(dir, 'dev')],
          cliEnv(s),
        )
      ).code,
      0,
    );
    delete withThings(s.state).things['sensor-1'];
    const r = await runCli(['devices', 'delete', '--core', 'core-a', '--names', 'sensor-1', '--yes'], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    t.same(
      s.calls('BatchDisassociateClientDeviceFromCoreDevice').map((q) => q.status),
      [200],
    );
  },
);

t.test(
  'cores delete --deprovision: a certificate with more policies than one ListAttachedPolicies page has all of them detached',
  async (t) => {
    const { IoTClient, CreatePolicyCommand, AttachPolicyCommand } = await import('@aws-sdk/client-iot');
    const iot = new IoTClient({
      endpoint: s.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    const certArn = things(s)['core-a'].principals[0]!;
    for (let i = 0; i < 30; i++) {
      await iot.send(
        new CreatePolicyCommand({
          policyName: `extra-${i}`,
          policyDocument: '{"Version":"2012-10-17","Statement":[]}',
        }),
      );
      await iot.send(new AttachPolicyCommand({ policyName: `extra-${i}`, target: certArn }));
    }
    iot.destroy();
    s.requests.length = 0;
    const r = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--yes'], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    t.same(
      s.calls('ListAttachedPolicies').map((q) => q.query.marker ?? null),
      [null, '25'],
      'two pages read',
    );
    t.equal(s.calls('DetachPolicy').length, 31, 'the device policy and the 30 others');
    t.same(Object.keys(s.state.certificates), [], 'certificate deleted');
  },
);
