// greengrass-image claim create / rotate, endpoints, config render: the real CLI as a child process,
// the real SDK clients inside it, the AWS wire stand-in recording what they sent.
import t from 'tap';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IoTClient, CreatePolicyCommand } from '@aws-sdk/client-iot';
import { parseInstallerConfig, fleetConfig, THING_NAME_PLACEHOLDER } from '../../common/installer-config.ts';
import { ExitCode } from '../../common/errors.ts';
import { ca, cliEnv, runCli, startAwsStandin, tmp, type AwsStandin } from './helpers.ts';

const SECRET = 'greengrass/dev/claims-certificate';
let s: AwsStandin;
t.beforeEach(async () => {
  s = await startAwsStandin({
    ca,
    endpoints: {
      region: 'eu-west-1',
      iotDataEndpoint: 'a1-ats.iot.eu-west-1.amazonaws.com',
      iotCredEndpoint: 'c1.credentials.iot.eu-west-1.amazonaws.com',
    },
  });
  const iot = new IoTClient({
    endpoint: s.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'GreengrassProvisioningClaimPolicy',
      policyDocument: '{"Version":"2012-10-17","Statement":[]}',
    }),
  );
  s.requests.length = 0;
});
t.afterEach(() => s.close());

function storedSecret(): { certificatePem: string; privateKey: string; certificateArn: string; certificateId: string } {
  const v = s.state.secrets[SECRET].versions.find((x) => x.stages.includes('AWSCURRENT'))!;
  return JSON.parse(v.secretString!);
}

t.test('claim create: certificate, policy, thing group, one secret; re-run reuses it', async (t) => {
  const r = await runCli(
    ['claim', 'create', '--env', 'dev', '--policy', 'GreengrassProvisioningClaimPolicy', '--json'],
    cliEnv(s),
  );
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.equal(out.reused, false);
  t.same(
    s.requests.map((q) => q.op),
    ['GetSecretValue', 'CreateKeysAndCertificate', 'AttachPolicy', 'CreateThingGroup', 'CreateSecret'],
  );
  t.same(s.calls('CreateKeysAndCertificate')[0].query, { setAsActive: 'true' });
  t.same(s.calls('AttachPolicy')[0].body, { target: out.certificateArn });
  t.equal(s.calls('CreateThingGroup')[0].path, '/thing-groups/GreengrassGoldenImageCores');
  const create = s.calls('CreateSecret')[0].body as { Name: string; SecretString: string };
  t.equal(create.Name, SECRET);
  const secret = storedSecret();
  t.equal(secret.certificateId, out.certificateId);
  t.ok(
    new X509Certificate(secret.certificatePem).checkPrivateKey(createPrivateKey(secret.privateKey)),
    'stored key matches stored cert',
  );
  t.equal(s.state.certificates[out.certificateId].status, 'ACTIVE');
  t.same(s.state.certificates[out.certificateId].policies, ['GreengrassProvisioningClaimPolicy']);
  t.notOk(r.stdout.includes('PRIVATE KEY') || r.stderr.includes('PRIVATE KEY'), 'the private key is never printed');

  s.requests.length = 0;
  const again = await runCli(
    ['claim', 'create', '--env', 'dev', '--policy', 'GreengrassProvisioningClaimPolicy', '--json'],
    cliEnv(s),
  );
  t.equal(again.code, 0, again.stderr);
  t.equal(JSON.parse(again.stdout).reused, true);
  t.equal(JSON.parse(again.stdout).certificateId, out.certificateId);
  t.equal(s.calls('CreateKeysAndCertificate').length, 0, 'no second certificate');
  t.equal(s.calls('CreateSecret').length + s.calls('PutSecretValue').length, 0, 'secret not overwritten');
  t.equal(Object.keys(s.state.certificates).length, 1);
  t.same(
    s.calls('DescribeCertificate').map((q) => q.path),
    [`/certificates/${out.certificateId}`],
    'reuse checks the certificate is still ACTIVE',
  );

  s.state.certificates[out.certificateId].status = 'INACTIVE';
  const inactive = await runCli(['claim', 'create', '--env', 'dev'], cliEnv(s));
  t.equal(inactive.code, ExitCode.CONFIG);
  t.match(
    inactive.stderr,
    new RegExp(
      `claim certificate ${out.certificateId} in secret ${SECRET} is INACTIVE: run greengrass-image claim rotate --env dev`,
    ),
  );
});

t.test('claim rotate: new current version; old cert deactivated only with --deactivate-old', async (t) => {
  t.equal(
    (await runCli(['claim', 'create', '--env', 'dev', '--policy', 'GreengrassProvisioningClaimPolicy'], cliEnv(s)))
      .code,
    0,
  );
  const first = storedSecret();
  s.requests.length = 0;
  const r1 = await runCli(['claim', 'rotate', '--env', 'dev', '--json'], cliEnv(s));
  t.equal(r1.code, 0, r1.stderr);
  const second = storedSecret();
  t.not(second.certificateId, first.certificateId);
  t.same(
    s.requests.map((q) => q.op),
    ['GetSecretValue', 'ListAttachedPolicies', 'CreateKeysAndCertificate', 'AttachPolicy', 'PutSecretValue'],
  );
  t.same(
    s.state.certificates[second.certificateId].policies,
    ['GreengrassProvisioningClaimPolicy'],
    'policies carried over',
  );
  t.equal(s.state.certificates[first.certificateId].status, 'ACTIVE', 'old left active without the flag');
  t.equal(s.calls('UpdateCertificate').length, 0);

  s.requests.length = 0;
  const r2 = await runCli(['claim', 'rotate', '--env', 'dev', '--deactivate-old', '--json'], cliEnv(s));
  t.equal(r2.code, 0, r2.stderr);
  const third = storedSecret();
  const upd = s.calls('UpdateCertificate');
  t.equal(upd.length, 1);
  t.equal(upd[0].path, `/certificates/${second.certificateId}`);
  t.same(upd[0].query, { newStatus: 'INACTIVE' });
  t.equal(s.state.certificates[second.certificateId].status, 'INACTIVE');
  t.equal(s.state.certificates[third.certificateId].status, 'ACTIVE');
  t.same(JSON.parse(r2.stdout).previousDeactivated, true);
  const versions = s.state.secrets[SECRET].versions;
  t.equal(versions.length, 3);
  t.same(
    versions.map((v) => v.stages),
    [[], ['AWSPREVIOUS'], ['AWSCURRENT']],
  );

  const none = await runCli(['claim', 'rotate', '--env', 'prod'], cliEnv(s));
  t.equal(none.code, ExitCode.AWS);
  t.match(
    none.stderr,
    /secret greengrass\/prod\/claims-certificate does not exist: run greengrass-image claim create --env prod first/,
  );
});

t.test(
  'claim rotate --deactivate-old whose UpdateCertificate fails: exit 4 saying the new cert is current and how to finish, not to rotate again',
  async (t) => {
    t.equal(
      (await runCli(['claim', 'create', '--env', 'dev', '--policy', 'GreengrassProvisioningClaimPolicy'], cliEnv(s)))
        .code,
      0,
    );
    const first = storedSecret();
    s.failWith('UpdateCertificate', 500, 3);
    const r = await runCli(['claim', 'rotate', '--env', 'dev', '--deactivate-old', '--json'], cliEnv(s));
    t.equal(r.code, ExitCode.AWS, r.stderr);
    const second = storedSecret();
    t.not(second.certificateId, first.certificateId, 'the rotation itself happened');
    t.match(
      r.stderr,
      new RegExp(
        `the new claim certificate ${second.certificateId} is current in ${SECRET}, but deactivating the previous one failed: UpdateCertificate ${first.certificateId} failed: .*HTTP 500`,
      ),
    );
    t.match(
      r.stderr,
      new RegExp(
        `aws iot update-certificate --certificate-id ${first.certificateId} --new-status INACTIVE \\(do not run claim rotate again`,
      ),
    );
    t.equal(JSON.parse(r.stdout).error.reason, 'deactivate-old-failed');
    t.equal(s.state.certificates[first.certificateId].status, 'ACTIVE');
  },
);

t.test('claim rotate --deactivate-old when the old certificate was already deleted: exit 0, said so', async (t) => {
  t.equal(
    (await runCli(['claim', 'create', '--env', 'dev', '--policy', 'GreengrassProvisioningClaimPolicy'], cliEnv(s)))
      .code,
    0,
  );
  const first = storedSecret();
  delete s.state.certificates[first.certificateId];
  const r = await runCli(
    ['claim', 'rotate', '--env', 'dev', '--deactivate-old', '--policy', 'GreengrassProvisioningClaimPolicy'],
    cliEnv(s),
  );
  t.equal(r.code, 0, r.stderr);
  t.match(
    r.stdout,
    new RegExp(`previous certificate ${first.certificateId} no longer exists \\(nothing to deactivate\\)`),
  );
  t.not(storedSecret().certificateId, first.certificateId);
});

t.test('throttling and 5xx are retried by the SDK (the server saw every attempt)', async (t) => {
  s.throttle('CreateKeysAndCertificate', 2);
  s.throttle('GetSecretValue', 1);
  s.failWith('CreateSecret', 503, 1);
  const r = await runCli(['claim', 'create', '--env', 'dev', '--json'], cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  t.same(
    s.calls('CreateKeysAndCertificate').map((q) => q.status),
    [400, 400, 200],
    'IoT ThrottlingException (400) retried twice',
  );
  t.same(
    s.calls('GetSecretValue').map((q) => q.headers['amz-sdk-request']),
    ['attempt=1; max=3', 'attempt=2; max=3'],
  );
  t.same(
    s.calls('CreateSecret').map((q) => q.status),
    [503, 200],
  );
  const tokens = s.calls('CreateSecret').map((q) => (q.body as { ClientRequestToken: string }).ClientRequestToken);
  t.equal(tokens[0], tokens[1], 'the retry carries the same ClientRequestToken');
  t.equal(Object.keys(s.state.certificates).length, 1, 'one certificate despite the retries');
});

t.test('an AWS failure after retries: one clear line, exit 4, the new certificate rolled back', async (t) => {
  s.failWith('CreateSecret', 500, 3);
  const r = await runCli(
    ['claim', 'create', '--env', 'dev', '--policy', 'GreengrassProvisioningClaimPolicy'],
    cliEnv(s),
  );
  t.equal(r.code, ExitCode.AWS);
  const errLines = r.stderr.split('\n').filter((l) => l.includes('error:'));
  t.equal(errLines.length, 1);
  t.match(errLines[0], /CreateSecret failed: InternalServiceError: .*\(HTTP 500, 3 attempts\)/);
  t.same(Object.keys(s.state.certificates), [], 'certificate deleted (nothing half-done)');
  t.same(s.calls('DetachPolicy').length, 1);
  t.notOk(s.state.secrets[SECRET]);

  const bad = await runCli(['claim', 'create', '--env', 'no spaces'], cliEnv(s));
  t.equal(bad.code, ExitCode.USAGE);
  t.match(bad.stderr, /--env "no spaces" must be/);
  const noCreds = await runCli(
    ['claim', 'create', '--env', 'dev'],
    cliEnv(s, { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_EC2_METADATA_DISABLED: 'true' }),
  );
  t.equal(noCreds.code, ExitCode.AWS);
  t.match(noCreds.stderr, /credentials/i);
});

t.test(
  'claim create / config render: a thing group name IoT refuses is a usage error before any AWS call',
  async (t) => {
    const c = await runCli(['claim', 'create', '--env', 'dev', '--thing-group', 'Bad:Group'], cliEnv(s));
    t.equal(c.code, ExitCode.USAGE, c.stderr);
    t.match(c.stderr, /--thing-group "Bad:Group" contains ':'/);
    const dir = tmp('gg-config-group-');
    const out = join(dir, 'config.yaml');
    const r = await runCli(['config', 'render', '--thing-group', 'a b', '-o', out], cliEnv(s));
    t.equal(r.code, ExitCode.USAGE, r.stderr);
    t.match(r.stderr, /--thing-group "a b" has characters thing group names do not allow/);
    const settings = join(dir, 'settings.yaml');
    writeFileSync(settings, 'thing-group: Größe\n');
    const r2 = await runCli(['config', 'render', '--settings', settings, '-o', out], cliEnv(s));
    t.equal(r2.code, ExitCode.USAGE, r2.stderr);
    t.match(r2.stderr, /non-ASCII/);
    t.equal(s.requests.length, 0, 'no AWS call');
    t.same(Object.keys(s.state.certificates), [], 'no certificate made');
    t.notOk(existsSync(out), 'no config written');
  },
);

t.test(
  'config render: the settings file region signs the AWS calls; wrong types, an unwritable -o: config errors',
  async (t) => {
    const dir = tmp('gg-config-region-');
    const settings = join(dir, 'settings.yaml');
    writeFileSync(settings, 'region: us-west-2\n');
    const r = await runCli(['config', 'render', '--settings', settings], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    t.equal(fleetConfig(parseInstallerConfig(r.stdout)).awsRegion, 'us-west-2');
    t.match(
      fleetConfig(parseInstallerConfig(r.stdout)).iotDataEndpoint,
      /-ats\.iot\.us-west-2\.amazonaws\.com$/,
      "the settings region's endpoint",
    );
    t.equal(s.calls('DescribeEndpoint').length, 2);
    for (const q of s.calls('DescribeEndpoint'))
      t.match(
        String(q.headers.authorization),
        /\/us-west-2\/iot\/aws4_request/,
        'signed for the settings region, not AWS_REGION',
      );

    s.requests.length = 0;
    writeFileSync(settings, 'output: 123\nmqtt-port: "x"\n');
    const typed = await runCli(['config', 'render', '--settings', settings], cliEnv(s));
    t.equal(typed.code, ExitCode.CONFIG, typed.stderr);
    t.match(typed.stderr, /settings file .*: output must be a string, got 123; mqtt-port must be a number, got "x"/);
    t.notMatch(typed.stderr, /internal error/);
    const toDir = await runCli(
      ['config', 'render', '--iot-data-endpoint', 'x', '--iot-cred-endpoint', 'y', '-o', dir],
      cliEnv(s),
    );
    t.equal(toDir.code, ExitCode.CONFIG, toDir.stderr);
    t.match(toDir.stderr, new RegExp(`cannot write --output ${dir}: EISDIR`));
    t.equal(s.requests.length, 0);
  },
);

t.test(
  'claim rotate without --policy when the old certificate is deleted or has no policy: refused, nothing created',
  async (t) => {
    t.equal((await runCli(['claim', 'create', '--env', 'dev'], cliEnv(s))).code, 0, 'a claim made without --policy');
    const first = storedSecret();
    s.requests.length = 0;
    let r = await runCli(['claim', 'rotate', '--env', 'dev'], cliEnv(s));
    t.equal(r.code, ExitCode.USAGE, r.stderr);
    t.match(
      r.stderr,
      new RegExp(
        `claim rotate: the previous certificate ${first.certificateId} has no policy attached, so there is no policy to carry over: pass --policy`,
      ),
    );
    t.equal(s.calls('CreateKeysAndCertificate').length, 0);

    delete s.state.certificates[first.certificateId];
    const create = await runCli(['claim', 'create', '--env', 'dev'], cliEnv(s));
    t.equal(create.code, ExitCode.CONFIG);
    t.match(
      create.stderr,
      new RegExp(
        `names certificate ${first.certificateId}, which does not exist in IoT: run greengrass-image claim rotate --env dev --policy <claim policy>`,
      ),
    );
    r = await runCli(['claim', 'rotate', '--env', 'dev'], cliEnv(s));
    t.equal(r.code, ExitCode.USAGE, r.stderr);
    t.match(r.stderr, /pass --policy <claim policy>/);
    t.equal(s.calls('CreateKeysAndCertificate').length, 0, 'no claim certificate without a policy');
    t.equal(storedSecret().certificateId, first.certificateId, 'the secret is unchanged');
  },
);

t.test('rollback that fails: the error says which certificate is left and what to clean up', async (t) => {
  s.failWith('CreateSecret', 500, 3);
  s.failWith('DeleteCertificate', 500, 3);
  const r = await runCli(
    ['claim', 'create', '--env', 'dev', '--policy', 'GreengrassProvisioningClaimPolicy'],
    cliEnv(s),
  );
  t.equal(r.code, ExitCode.AWS, r.stderr);
  const [id] = Object.keys(s.state.certificates);
  t.ok(id, 'the certificate is still there');
  t.equal(s.state.certificates[id!].status, 'INACTIVE', 'deactivated before the failed delete');
  t.match(r.stderr, /error: CreateSecret failed: InternalServiceError/);
  t.match(
    r.stderr,
    new RegExp(
      `rollback incomplete: the unused claim certificate ${id} \\(arn:aws:iot:[^)]*cert/${id}\\) could not be deleted:\\n  - DeleteCertificate failed: .*HTTP 500`,
    ),
  );
  t.match(
    r.stderr,
    /delete it yourself: detach its policies \(GreengrassProvisioningClaimPolicy\), set it INACTIVE, then delete it/,
  );
  t.notOk(s.state.secrets[SECRET]);
});

t.test(
  'claim rotate replaces a secret whose value is JSON null or binary; claim create names a binary secret',
  async (t) => {
    const { SecretsManagerClient, CreateSecretCommand } = await import('@aws-sdk/client-secrets-manager');
    const sm = new SecretsManagerClient({
      endpoint: s.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    await sm.send(new CreateSecretCommand({ Name: SECRET, SecretString: 'null' }));
    await sm.send(
      new CreateSecretCommand({ Name: 'greengrass/bin/claims-certificate', SecretBinary: Buffer.from([1, 2, 3]) }),
    );
    sm.destroy();
    const refused = await runCli(['claim', 'rotate', '--env', 'dev'], cliEnv(s));
    t.equal(refused.code, ExitCode.USAGE, refused.stderr);
    t.match(
      refused.stderr,
      /claim rotate: the current value of greengrass\/dev\/claims-certificate names no certificate, so there is no policy to carry over: pass --policy <claim policy>/,
    );
    t.equal(s.calls('CreateKeysAndCertificate').length, 0, 'no claim certificate without a policy');
    const r = await runCli(
      ['claim', 'rotate', '--env', 'dev', '--policy', 'GreengrassProvisioningClaimPolicy', '--json'],
      cliEnv(s),
    );
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, /not a JSON claim document; rotating replaces it/);
    t.equal(storedSecret().certificateId, JSON.parse(r.stdout).certificateId);
    t.same(s.state.certificates[JSON.parse(r.stdout).certificateId].policies, ['GreengrassProvisioningClaimPolicy']);

    const c = await runCli(['claim', 'create', '--env', 'bin'], cliEnv(s));
    t.equal(c.code, ExitCode.CONFIG, c.stderr);
    t.match(
      c.stderr,
      /secret greengrass\/bin\/claims-certificate has no SecretString \(binary secrets are not claim secrets\)/,
    );
    t.equal(
      (await runCli(['claim', 'rotate', '--env', 'bin'], cliEnv(s))).code,
      ExitCode.USAGE,
      'binary: nothing to carry over either',
    );
    const b = await runCli(
      ['claim', 'rotate', '--env', 'bin', '--policy', 'GreengrassProvisioningClaimPolicy'],
      cliEnv(s),
    );
    t.equal(b.code, 0, b.stderr);
    t.match(b.stderr, /is binary; rotating replaces it/);
  },
);

t.test('endpoints: DescribeEndpoint for both types', async (t) => {
  const r = await runCli(['endpoints', '--json'], cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), {
    region: 'eu-west-1',
    iotDataEndpoint: 'a1-ats.iot.eu-west-1.amazonaws.com',
    iotCredentialEndpoint: 'c1.credentials.iot.eu-west-1.amazonaws.com',
  });
  t.same(
    s.calls('DescribeEndpoint').map((q) => q.query.endpointType),
    ['iot:Data-ATS', 'iot:CredentialProvider'],
  );
  t.match(
    String(s.calls('DescribeEndpoint')[0].headers.authorization),
    /\/eu-west-1\/iot\/aws4_request/,
    'signed for the region',
  );
});

t.test(
  'config render: endpoints discovered, parses back with the shared schema; settings file; bad input',
  async (t) => {
    const r = await runCli(['config', 'render', '--mqtt-port', '8883', '--thing-group', 'Branches'], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    const doc = parseInstallerConfig(r.stdout);
    const cfg = fleetConfig(doc);
    t.equal(cfg.iotDataEndpoint, 'a1-ats.iot.eu-west-1.amazonaws.com');
    t.equal(cfg.iotCredentialEndpoint, 'c1.credentials.iot.eu-west-1.amazonaws.com');
    t.equal(cfg.awsRegion, 'eu-west-1');
    t.equal(cfg.mqttPort, 8883);
    t.same(cfg.templateParameters, { ThingName: THING_NAME_PLACEHOLDER, ThingGroupName: 'Branches' });
    t.equal(doc.services['aws.greengrass.Nucleus'].version, '2.16.0', 'nucleus version pinned');
    t.same(
      s.calls('DescribeEndpoint').map((q) => q.query.endpointType),
      ['iot:Data-ATS', 'iot:CredentialProvider'],
    );

    const dir = tmp('gg-config-');
    const settings = join(dir, 'settings.yaml');
    writeFileSync(
      settings,
      'iot-data-endpoint: 10.0.2.2\niotCredEndpoint: 10.0.2.2\nrole-alias: MyAlias\nnucleus-version: 2.12.0\nmqtt-port: 18883\n',
    );
    s.requests.length = 0;
    const out = join(dir, 'config.yaml');
    const r2 = await runCli(
      ['config', 'render', '--settings', settings, '--mqtt-port', '28883', '-o', out, '--region', 'us-west-2'],
      cliEnv(s),
    );
    t.equal(r2.code, 0, r2.stderr);
    const cfg2 = fleetConfig(parseInstallerConfig(readFileSync(out, 'utf8')));
    t.equal(cfg2.iotDataEndpoint, '10.0.2.2');
    t.equal(cfg2.iotRoleAlias, 'MyAlias');
    t.equal(cfg2.mqttPort, 28883, 'the flag wins over the settings file');
    t.equal(cfg2.awsRegion, 'us-west-2');
    t.equal(s.requests.length, 0, 'no AWS calls when the endpoints are given');

    writeFileSync(settings, 'iot-data-endpiont: x\n');
    const typo = await runCli(['config', 'render', '--settings', settings], cliEnv(s));
    t.equal(typo.code, ExitCode.CONFIG);
    t.match(typo.stderr, /unknown key iot-data-endpiont/);
    const badRegion = await runCli(
      ['config', 'render', '--region', 'mars-1', '--iot-data-endpoint', 'x', '--iot-cred-endpoint', 'y'],
      cliEnv(s),
    );
    t.equal(badRegion.code, ExitCode.CONFIG);
    t.match(badRegion.stderr, /awsRegion "mars-1" is not an AWS region name/);
  },
);
