// greengrass-image cores create (MANUAL provisioning): the real CLI, the real SDK clients in it, the
// AWS wire stand-in recording what they sent and holding the resulting IoT state.
import t from 'tap';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IoTClient, CreatePolicyCommand } from '@aws-sdk/client-iot';
import { ExitCode } from '../../../common/errors.ts';
import { stackIotPolicies } from '../../../cloudformation/template.ts';
import { ca } from '../helpers.ts';
import {
  cliEnv,
  CRED,
  DATA,
  events,
  faultOnNth,
  readYaml,
  runCli,
  standin,
  things,
  tmp,
  type AwsStandin,
} from './fleet-helpers.ts';

let s: AwsStandin;
t.beforeEach(async () => {
  s = await standin();
});
t.afterEach(() => s.close());

const modeOf = (p: string) => statSync(p).mode & 0o777;

t.test(
  'creates Thing, group membership, certificate + policy, MANUAL config and 0600 certs bundle per core',
  async (t) => {
    const out = tmp('gg-cores-');
    const ev = join(out, 'events.jsonl');
    const rootCa = join(out, 'root.pem');
    writeFileSync(rootCa, ca.certificatePem);
    const r = await runCli(
      [
        'cores',
        'create',
        '--names',
        'site1-core-a,site1-core-b',
        '--thing-group',
        'Site1Cores',
        '--output',
        join(out, 'o'),
        '--root-ca',
        rootCa,
        '--events',
        ev,
        '--json',
      ],
      cliEnv(s),
    );
    t.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    t.equal(res.created, 2);
    t.same(Object.keys(things(s)).sort(), ['site1-core-a', 'site1-core-b']);
    t.same(s.state.thingGroups.Site1Cores.things.sort(), ['site1-core-a', 'site1-core-b']);
    t.equal(s.calls('CreateKeysAndCertificate').length, 2);
    t.same(s.calls('CreateKeysAndCertificate')[0].query, { setAsActive: 'true' });
    for (const name of ['site1-core-a', 'site1-core-b']) {
      const dir = join(out, 'o', name);
      const rec = JSON.parse(readFileSync(join(dir, 'certs', 'certificate.json'), 'utf8'));
      const cert = s.state.certificates[rec.certificateId];
      t.equal(cert.status, 'ACTIVE');
      // The core's own policy: the document the stack's provisioning template gives a fleet-provisioned core.
      t.same(cert.policies, [`GreengrassCorePolicy-${name}`]);
      const doc = JSON.parse(s.state.policies[`GreengrassCorePolicy-${name}`].policyDocument);
      const stack = stackIotPolicies({ region: 'eu-west-1', accountId: '123456789012' });
      t.same(doc, stack.core(name), 'same document as a fleet-provisioned core');
      t.notMatch(JSON.stringify(doc), /iot:Connection/, 'no thing policy variable');
      t.same(things(s)[name].principals, [cert.certificateArn], 'certificate attached to the thing');
      const pem = readFileSync(join(dir, 'certs', 'device.pem.crt'), 'utf8');
      t.equal(pem, cert.certificatePem);
      t.ok(
        new X509Certificate(pem).checkPrivateKey(
          createPrivateKey(readFileSync(join(dir, 'certs', 'private.pem.key'), 'utf8')),
        ),
        'key matches cert',
      );
      for (const f of [
        'config.yaml',
        'certs/device.pem.crt',
        'certs/private.pem.key',
        'certs/certificate.json',
        'certs/AmazonRootCA1.pem',
      ])
        t.equal(modeOf(join(dir, f)), 0o600, `${f} is 0600`);
      t.equal(modeOf(dir) & 0o077, 0, 'core folder not group/world accessible');
      const cfg = readYaml(join(dir, 'config.yaml'));
      t.same(cfg.system, {
        certificateFilePath: '/greengrass/v2/device.pem.crt',
        privateKeyPath: '/greengrass/v2/private.pem.key',
        rootCaPath: '/greengrass/v2/AmazonRootCA1.pem',
        rootpath: '/greengrass/v2',
        thingName: name,
      });
      const n = cfg.services['aws.greengrass.Nucleus'];
      t.equal(n.componentType, 'NUCLEUS');
      t.match(n.version, /^\d+\.\d+\.\d+$/);
      t.same(n.configuration, {
        awsRegion: 'eu-west-1',
        iotRoleAlias: 'GreengrassCoreTokenExchangeRoleAlias',
        iotDataEndpoint: DATA,
        iotCredEndpoint: CRED,
      });
      t.notOk(cfg.services['aws.greengrass.FleetProvisioningByClaim'], 'no claim plugin in a MANUAL config');
    }
    t.notOk(/PRIVATE KEY/.test(r.stdout + r.stderr), 'no key material on stdout/stderr');
    const e = events(ev);
    t.same(e.map((x) => [x.type, x.thingName]).sort(), [
      ['core.created', 'site1-core-a'],
      ['core.created', 'site1-core-b'],
    ]);
    t.notOk(readFileSync(ev, 'utf8').includes('PRIVATE KEY'), 'no key material in the event log');
    // The private key never travels in process arguments: the CLI only got file paths and names.
  },
);

t.test('bad input is refused before any AWS call, nothing written', async (t) => {
  const out = tmp('gg-cores-bad-');
  const cases: [string[], RegExp][] = [
    [['--names', 'a,b', '--thing-group', 'Site:1'], /contains ':'/],
    [['--names', 'a,b', '--thing-group', 'Sitë1'], /non-ASCII/],
    [['--names', 'a,b', '--thing-group', 'x'.repeat(129)], /at most 128/],
    [['--names', 'good,bad.example.com', '--thing-group', 'G'], /FQDN/],
    [['--names', 'a,a', '--thing-group', 'G'], /given twice/],
    [['--count', '3', '--thing-group', 'G'], /--prefix/],
    [['--count', '0', '--prefix', 'p', '--thing-group', 'G'], /--count/],
    [['--names', 'ubuntu', '--thing-group', 'G'], /deny list/],
    [['--thing-group', 'G'], /--names a,b,c or --count/],
    [
      ['--count', '2', '--prefix', 'p', '--start', 'abc', '--thing-group', 'G'],
      /--start must be a whole number >= 0, got NaN/,
    ],
    [
      ['--count', '2', '--prefix', 'p', '--start=-1', '--thing-group', 'G'],
      /--start must be a whole number >= 0, got -1/,
    ],
    [['--names', 'a', '--thing-group', 'G', '-o', join(out, 'o2')], /--output was given 2 times \(.*\): give it once/],
    [
      ['--names', 'a', '--thing-group', 'G', '--concurrency', 'abc'],
      /--concurrency must be a whole number from 1 to 64/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['cores', 'create', ...args, '--output', join(out, 'o')], cliEnv(s));
    t.equal(r.code, ExitCode.USAGE, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, re);
  }
  const badCa = join(out, 'ca.pem');
  writeFileSync(badCa, 'not a cert');
  const r = await runCli(
    ['cores', 'create', '--names', 'a', '--thing-group', 'G', '--output', join(out, 'o'), '--root-ca', badCa],
    cliEnv(s),
  );
  t.equal(r.code, ExitCode.CONFIG);
  t.match(r.stderr, /not a PEM certificate/);
  t.equal(s.requests.length, 0, 'no AWS call made');
  t.notOk(existsSync(join(out, 'o')) || existsSync(join(out, 'o2')), 'no output folder');
});

t.test('--events that cannot be appended to: config error (3) before any AWS call, nothing created', async (t) => {
  const out = tmp('gg-cores-ev-');
  const r = await runCli(
    ['cores', 'create', '--names', 'a1', '--thing-group', 'G', '--output', join(out, 'o'), '--events', out],
    cliEnv(s),
  );
  t.equal(r.code, ExitCode.CONFIG, r.stderr);
  t.match(r.stderr, new RegExp(`cannot append to the event log ${out} .*EISDIR`));
  t.equal(s.requests.length, 0, 'no AWS call');
  t.same(things(s), {});
  t.notOk(existsSync(join(out, 'o')), 'no output folder, no config.yaml');
});

t.test(
  'a local failure inside the batch (not an AWS error) is not reported as exit 4; the core stays incomplete',
  async (t) => {
    const out = tmp('gg-cores-local-');
    const rootCa = join(out, 'root.pem');
    writeFileSync(rootCa, ca.certificatePem);
    mkdirSync(join(out, 'o', 'c1', 'certs', 'AmazonRootCA1.pem'), { recursive: true });
    const ev = join(out, 'events.jsonl');
    const r = await runCli(
      [
        'cores',
        'create',
        '--names',
        'c1',
        '--thing-group',
        'G',
        '--output',
        join(out, 'o'),
        '--root-ca',
        rootCa,
        '--events',
        ev,
      ],
      cliEnv(s),
    );
    t.equal(r.code, ExitCode.INTERNAL, r.stderr);
    t.match(r.stderr, /c1: .*EISDIR/);
    t.notOk(existsSync(join(out, 'o', 'c1', 'config.yaml')));
    t.same(events(ev), [], 'no event for an incomplete core');
  },
);

t.test('--policy attaches that existing policy; a per-core policy with another document is refused', async (t) => {
  const out = tmp('gg-cores-named-');
  const base = ['cores', 'create', '--thing-group', 'G', '--output', join(out, 'o')];
  const r = await runCli([...base, '--names', 'n1', '--policy', 'GreengrassV2IoTThingPolicy'], cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  const rec = JSON.parse(readFileSync(join(out, 'o', 'n1', 'certs', 'certificate.json'), 'utf8'));
  t.same(s.state.certificates[rec.certificateId].policies, ['GreengrassV2IoTThingPolicy']);
  t.notOk(s.state.policies['GreengrassCorePolicy-n1'], 'no per-core policy made');

  const credentials = { accessKeyId: 'a', secretAccessKey: 'b' };
  const iot = new IoTClient({ endpoint: s.url, region: 'eu-west-1', credentials });
  const empty = '{"Version":"2012-10-17","Statement":[]}';
  await iot.send(new CreatePolicyCommand({ policyName: 'GreengrassCorePolicy-n2', policyDocument: empty }));
  iot.destroy();
  const r2 = await runCli([...base, '--names', 'n2'], cliEnv(s));
  t.equal(r2.code, ExitCode.CONFIG, r2.stderr);
  t.match(r2.stderr, /IoT policy GreengrassCorePolicy-n2 exists with another document/);
  t.notOk(existsSync(join(out, 'o', 'n2', 'config.yaml')), 'core not complete');
});

t.test('missing device policy: config error (3) before any Thing exists', async (t) => {
  const out = tmp('gg-cores-pol-');
  const r = await runCli(
    ['cores', 'create', '--names', 'a1', '--thing-group', 'G', '--output', join(out, 'o'), '--policy', 'NoSuchPolicy'],
    cliEnv(s),
  );
  t.equal(r.code, ExitCode.CONFIG, r.stderr);
  t.match(r.stderr, /IoT policy NoSuchPolicy does not exist/);
  t.same(things(s), {});
  t.equal(s.calls('CreateKeysAndCertificate').length, 0);
});

t.test('a conflict half-way through a batch stops it; the re-run creates only what is missing', async (t) => {
  const out = tmp('gg-cores-resume-');
  const ev = join(out, 'events.jsonl');
  // A Thing p004 made by someone else (different attributes): CreateThing answers 409 for it.
  (await import('../../../standins/aws/iot-fleet.ts')).withThings(s.state).things.p004 = {
    thingName: 'p004',
    thingArn: 'arn:aws:iot:eu-west-1:123456789012:thing/p004',
    thingId: 'x',
    attributes: { owner: 'someone-else' },
    version: 1,
    principals: [],
    creationDate: 0,
  };
  const args = [
    'cores',
    'create',
    '--count',
    '6',
    '--prefix',
    'p',
    '--thing-group',
    'G',
    '--output',
    join(out, 'o'),
    '--concurrency',
    '1',
    '--events',
    ev,
  ];
  const r1 = await runCli(args, cliEnv(s));
  t.equal(r1.code, ExitCode.CONFIG, r1.stderr);
  t.match(r1.stderr, /3 of 6 done in this run.*1 failed, 2 not started/s);
  t.match(r1.stderr, /p004: thing p004 already exists with different attributes/);
  t.match(r1.stderr, /re-run the same command to resume/);
  t.same(
    readdirSync(join(out, 'o'))
      .filter((n) => existsSync(join(out, 'o', n, 'config.yaml')))
      .sort(),
    ['p001', 'p002', 'p003'],
  );
  t.equal(s.calls('CreateKeysAndCertificate').length, 3, 'no certificate for the failed core');
  t.equal(events(ev).length, 3);

  delete (await import('../../../standins/aws/iot-fleet.ts')).withThings(s.state).things.p004;
  s.requests.length = 0;
  const r2 = await runCli([...args, '--json'], cliEnv(s));
  t.equal(r2.code, 0, r2.stderr);
  const res = JSON.parse(r2.stdout);
  t.same([res.created, res.alreadyComplete], [3, 3]);
  t.same(
    s.calls('CreateThing').map((q) => q.path),
    ['/things/p004', '/things/p005', '/things/p006'],
    'finished cores are not touched again',
  );
  t.equal(s.calls('CreateKeysAndCertificate').length, 3);
  t.equal(Object.keys(s.state.certificates).length, 6, 'one certificate per core, no orphans');
  t.equal(s.state.thingGroups.G.things.length, 6);
  t.equal(events(ev).length, 6);

  s.requests.length = 0;
  const r3 = await runCli(args, cliEnv(s));
  t.equal(r3.code, 0, r3.stderr);
  t.match(r3.stdout, /all 6 cores already complete/);
  t.equal(s.requests.length, 0, 'a complete batch makes no AWS call');
});

t.test(
  '500s on the Nth CreateKeysAndCertificate: one is retried by the SDK; three stop the batch, the re-run reuses what exists',
  async (t) => {
    const out = tmp('gg-cores-500-');
    faultOnNth(s, 'CreateKeysAndCertificate', 2, { kind: 'error', status: 500 }, 1);
    const r1 = await runCli(
      [
        'cores',
        'create',
        '--count',
        '3',
        '--prefix',
        'r',
        '--thing-group',
        'G',
        '--output',
        join(out, 'a'),
        '--concurrency',
        '1',
      ],
      cliEnv(s),
    );
    t.equal(r1.code, 0, r1.stderr);
    t.same(
      s.calls('CreateKeysAndCertificate').map((q) => q.status),
      [200, 500, 200, 200],
      'the 500 was retried',
    );
    t.equal(Object.keys(s.state.certificates).length, 3);

    s.requests.length = 0;
    faultOnNth(s, 'AttachThingPrincipal', 2, { kind: 'error', status: 500 }, 3);
    const args = [
      'cores',
      'create',
      '--count',
      '3',
      '--prefix',
      'q',
      '--thing-group',
      'G',
      '--output',
      join(out, 'b'),
      '--concurrency',
      '1',
    ];
    const r2 = await runCli(args, cliEnv(s));
    t.equal(r2.code, ExitCode.AWS, r2.stderr);
    t.match(r2.stderr, /q002: AttachThingPrincipal q002 failed: InternalFailureException.*3 attempts/);
    t.ok(
      existsSync(join(out, 'b', 'q002', 'certs', 'private.pem.key')),
      'the key of the certificate that exists is kept for the resume',
    );
    t.notOk(existsSync(join(out, 'b', 'q002', 'config.yaml')));
    t.notOk(existsSync(join(out, 'b', 'q003')), 'q003 not started');
    const q002cert = JSON.parse(
      readFileSync(join(out, 'b', 'q002', 'certs', 'certificate.json'), 'utf8'),
    ).certificateArn;

    s.requests.length = 0;
    const r3 = await runCli(args, cliEnv(s));
    t.equal(r3.code, 0, r3.stderr);
    t.equal(s.calls('CreateKeysAndCertificate').length, 1, 'only q003 gets a new certificate; q002 reuses its own');
    t.same(things(s).q002.principals, [q002cert]);
    t.equal(Object.keys(s.state.certificates).length, 6);
  },
);

t.test(
  'cut off after key and certificate were written but before the record: the re-run rebuilds the record, no second certificate',
  async (t) => {
    const out = tmp('gg-cores-cut-');
    const args = ['cores', 'create', '--names', 'x1', '--thing-group', 'G', '--output', join(out, 'o')];
    t.equal((await runCli(args, cliEnv(s))).code, 0);
    const certs = join(out, 'o', 'x1', 'certs');
    const record = readFileSync(join(certs, 'certificate.json'), 'utf8');
    rmSync(join(certs, 'certificate.json'));
    rmSync(join(out, 'o', 'x1', 'config.yaml'));
    writeFileSync(join(certs, '.certificate.json.999.1.abc.tmp'), '{"thingName":');
    s.requests.length = 0;
    const r = await runCli(args, cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    t.equal(s.calls('CreateKeysAndCertificate').length, 0, 'no new certificate');
    t.equal(Object.keys(s.state.certificates).length, 1, 'no orphan certificate in IoT');
    t.same(
      JSON.parse(readFileSync(join(certs, 'certificate.json'), 'utf8')),
      JSON.parse(record),
      'record rebuilt as it was',
    );
    t.same(
      readdirSync(certs).filter((f) => f.endsWith('.tmp')),
      [],
      'stale temp file removed',
    );
    t.ok(existsSync(join(out, 'o', 'x1', 'config.yaml')));
  },
);

t.test('IoT throttling (400 ThrottlingException) is retried; --rate spaces the calls', async (t) => {
  const out = tmp('gg-cores-thr-');
  faultOnNth(s, 'AttachPolicy', 1, { kind: 'throttle' }, 1);
  const r = await runCli(
    [
      'cores',
      'create',
      '--count',
      '4',
      '--prefix',
      't',
      '--thing-group',
      'G',
      '--output',
      join(out, 'o'),
      '--rate',
      '20',
      '--json',
    ],
    cliEnv(s),
  );
  t.equal(r.code, 0, r.stderr);
  t.equal(s.calls('AttachPolicy')[0].status, 400);
  t.equal(s.calls('AttachPolicy').filter((q) => q.status === 200).length, 4);
  const perCore = s.requests.filter((q) => q.service === 'iot');
  const span = (perCore.at(-1)!.at - perCore[0]!.at) / 1000;
  t.ok(span >= (perCore.length - 1) / 20 - 0.05, `calls spread over ${span}s for ${perCore.length} calls at 20/s`);
});

t.test(
  "a name that is already another machine's identity (a Thing with a certificate attached, e.g. a fleet-provisioned core): config error, no second certificate",
  async (t) => {
    const out = tmp('gg-cores-inuse-');
    // What fleet provisioning leaves: the Thing with empty attributes (CreateThing succeeds for it again) and its certificate.
    const { withThings } = await import('../../../standins/aws/iot-fleet.ts');
    withThings(s.state).things['branch-017'] = {
      thingName: 'branch-017',
      thingArn: 'arn:aws:iot:eu-west-1:123456789012:thing/branch-017',
      thingId: 'y',
      attributes: {},
      version: 1,
      principals: [`arn:aws:iot:eu-west-1:123456789012:cert/${'ab'.repeat(32)}`],
      creationDate: 0,
    };
    const r = await runCli(
      [
        'cores',
        'create',
        '--names',
        'branch-017,branch-900',
        '--thing-group',
        'G',
        '--output',
        join(out, 'o'),
        '--concurrency',
        '1',
      ],
      cliEnv(s),
    );
    t.equal(r.code, ExitCode.CONFIG, r.stderr);
    t.match(
      r.stderr,
      new RegExp(
        `branch-017: thing branch-017 already has certificate\\(s\\) ${'ab'.repeat(32)} attached .*another machine's identity.*cores delete branch-017 --deprovision`,
      ),
    );
    t.match(r.stderr, /a name that is another machine's identity is refused again: drop or rename it/);
    t.equal(s.calls('CreateKeysAndCertificate').length, 0, 'no certificate made for it (and the batch stopped)');
    t.same(withThings(s.state).things['branch-017'].principals.length, 1);
    t.notOk(existsSync(join(out, 'o', 'branch-017', 'config.yaml')));
  },
);

t.test('an endpoint of another region: refused before any Thing, certificate, policy or group is made', async (t) => {
  // DescribeEndpoint answers for the region a request is signed for, so the mismatch comes from a given endpoint.
  const out = tmp('gg-cores-region-');
  const args = [
    '--names',
    'site9-core-a',
    '--thing-group',
    'Site9Cores',
    '--output',
    join(out, 'o'),
    '--region',
    'us-west-2',
  ];
  const r = await runCli(
    ['cores', 'create', ...args, '--iot-data-endpoint', 'a1-ats.iot.eu-west-1.amazonaws.com'],
    cliEnv(s),
  );
  t.equal(r.code, ExitCode.CONFIG, r.stderr);
  t.match(r.stderr, /iotDataEndpoint "a1-ats\.iot\.eu-west-1\.amazonaws\.com" is not in region us-west-2/);
  for (const op of [
    'CreateThing',
    'CreateKeysAndCertificate',
    'CreateThingGroup',
    'AttachPolicy',
    'AddThingToThingGroup',
  ])
    t.equal(s.calls(op).length, 0, `no ${op}`);
  t.same(Object.keys(things(s)), [], 'no Thing exists');
  t.notOk(existsSync(join(out, 'o', 'site9-core-a')), 'no core folder');
});
