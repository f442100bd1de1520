// The AWS wire STAND-IN, driven by the real @aws-sdk v3 clients (no mocks): the requests it records,
// the error shapes and status codes the SDK sees, retries of injected faults, and the CLI mode.
import t from 'tap';
import { spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IoTClient,
  CreateKeysAndCertificateCommand,
  AttachPolicyCommand,
  CreatePolicyCommand,
  CreateThingGroupCommand,
  DescribeEndpointCommand,
  UpdateCertificateCommand,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
} from '@aws-sdk/client-iot';
import {
  SecretsManagerClient,
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  DescribeSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { GreengrassV2Client, ListCoreDevicesCommand } from '@aws-sdk/client-greengrassv2';
import { ConfiguredRetryStrategy } from '@smithy/util-retry';
import { REPO_ROOT } from '../../common/repo-root.ts';
import { createCa } from '../../standins/pki.ts';
import { startAwsStandin, type AwsStandin } from '../../standins/aws/server.ts';

const ca = createCa();
const credentials = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' };
const fast = new ConfiguredRetryStrategy(3, () => 0);

function clients(s: AwsStandin) {
  const base = { endpoint: s.url, region: 'eu-west-1', credentials, retryStrategy: fast };
  return { iot: new IoTClient(base), sm: new SecretsManagerClient(base), gg: new GreengrassV2Client(base) };
}

let s: AwsStandin;
t.beforeEach(async () => {
  s = await startAwsStandin({
    ca,
    endpoints: { iotDataEndpoint: '10.0.2.2', iotCredEndpoint: '10.0.2.2', region: 'eu-west-1' },
  });
});
t.afterEach(() => s.close());

t.test('CreateKeysAndCertificate issues a real key pair signed by the stand-in CA', async (t) => {
  const { iot } = clients(s);
  const out = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const cert = new X509Certificate(out.certificatePem!);
  t.ok(cert.verify(new X509Certificate(ca.certificatePem).publicKey), 'signed by the stand-in CA');
  t.ok(cert.checkPrivateKey(createPrivateKey(out.keyPair!.PrivateKey!)), 'private key matches');
  t.match(out.certificateId, /^[0-9a-f]{64}$/);
  t.equal(
    out.certificateArn,
    `arn:aws:iot:eu-west-1:123456789012:cert/${out.certificateId}`,
    'ARN carries the signed region',
  );
  const [req] = s.calls('CreateKeysAndCertificate');
  t.equal(req.method, 'POST');
  t.equal(req.path, '/keys-and-certificate');
  t.same(req.query, { setAsActive: 'true' });
  const d = await iot.send(new DescribeCertificateCommand({ certificateId: out.certificateId }));
  t.equal(d.certificateDescription?.status, 'ACTIVE');
  t.type(d.certificateDescription?.creationDate, Date, 'epoch-second timestamp parsed by the SDK');
  t.notOk(JSON.stringify(s.state).includes('PRIVATE KEY'), 'the IoT side never keeps the private key');
});

t.test('IoT errors: status codes and typed exceptions as the real service sends them', async (t) => {
  const { iot } = clients(s);
  const c = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await t.rejects(iot.send(new AttachPolicyCommand({ policyName: 'missing', target: c.certificateArn })), {
    name: 'ResourceNotFoundException',
    $metadata: { httpStatusCode: 404 },
  });
  await iot.send(
    new CreatePolicyCommand({ policyName: 'gg/Policy 1', policyDocument: '{"Version":"2012-10-17","Statement":[]}' }),
  );
  await iot.send(new AttachPolicyCommand({ policyName: 'gg/Policy 1', target: c.certificateArn }));
  t.equal(
    s.calls('AttachPolicy').at(-1)!.path,
    '/target-policies/gg%2FPolicy%201',
    'policy name URI-encoded on the wire',
  );
  t.same(s.calls('AttachPolicy').at(-1)!.body, { target: c.certificateArn });
  await t.rejects(iot.send(new DeleteCertificateCommand({ certificateId: c.certificateId })), {
    name: 'CertificateStateException',
    $metadata: { httpStatusCode: 406 },
  });
  await iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: 'INACTIVE' }));
  await t.rejects(iot.send(new DeleteCertificateCommand({ certificateId: c.certificateId })), {
    name: 'DeleteConflictException',
    $metadata: { httpStatusCode: 409 },
  });
  await iot.send(new DeleteCertificateCommand({ certificateId: c.certificateId, forceDelete: true }));
  t.notOk(s.state.certificates[c.certificateId!]);
  const g1 = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'branches' }));
  const g2 = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'branches' }));
  t.equal(g2.thingGroupArn, g1.thingGroupArn, 'same properties: idempotent');
  await t.rejects(
    iot.send(
      new CreateThingGroupCommand({
        thingGroupName: 'branches',
        thingGroupProperties: { thingGroupDescription: 'other' },
      }),
    ),
    { name: 'ResourceAlreadyExistsException', $metadata: { httpStatusCode: 409 } },
  );
  await t.rejects(iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Bogus' })), {
    name: 'InvalidRequestException',
    $metadata: { httpStatusCode: 400, attempts: 1 },
  });
});

t.test('DescribeEndpoint is stable and configurable', async (t) => {
  const { iot } = clients(s);
  const a = await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
  const b = await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
  const c = await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:CredentialProvider' }));
  t.equal(a.endpointAddress, '10.0.2.2');
  t.equal(b.endpointAddress, a.endpointAddress);
  t.equal(c.endpointAddress, '10.0.2.2');
  t.same(
    s.calls('DescribeEndpoint').map((r) => r.query.endpointType),
    ['iot:Data-ATS', 'iot:Data-ATS', 'iot:CredentialProvider'],
  );
});

t.test('Secrets Manager: routing on x-amz-target, ClientRequestToken semantics, version stages', async (t) => {
  const { sm } = clients(s);
  const created = await sm.send(
    new CreateSecretCommand({ Name: 'gg/dev/claims-certificate', SecretString: '{"a":1}' }),
  );
  const req = s.calls('CreateSecret')[0];
  t.equal(req.path, '/');
  t.equal(req.headers['x-amz-target'], 'secretsmanager.CreateSecret');
  t.equal(req.headers['content-type'], 'application/x-amz-json-1.1');
  const token = (req.body as { ClientRequestToken: string }).ClientRequestToken;
  t.match(token, /^[0-9a-f-]{36}$/, 'the SDK sends a token');
  t.equal(created.VersionId, token, 'the token becomes the VersionId');
  await t.rejects(sm.send(new CreateSecretCommand({ Name: 'gg/dev/claims-certificate', SecretString: '{"a":2}' })), {
    name: 'ResourceExistsException',
  });
  const v2 = await sm.send(
    new PutSecretValueCommand({
      SecretId: 'gg/dev/claims-certificate',
      SecretString: '{"a":2}',
      ClientRequestToken: 'b'.repeat(32),
    }),
  );
  const again = await sm.send(
    new PutSecretValueCommand({
      SecretId: 'gg/dev/claims-certificate',
      SecretString: '{"a":2}',
      ClientRequestToken: 'b'.repeat(32),
    }),
  );
  t.equal(again.VersionId, v2.VersionId, 'same token + same value: no-op');
  await t.rejects(
    sm.send(
      new PutSecretValueCommand({
        SecretId: 'gg/dev/claims-certificate',
        SecretString: '{"a":3}',
        ClientRequestToken: 'b'.repeat(32),
      }),
    ),
    { name: 'ResourceExistsException' },
  );
  const cur = await sm.send(new GetSecretValueCommand({ SecretId: 'gg/dev/claims-certificate' }));
  t.equal(cur.SecretString, '{"a":2}');
  t.same(cur.VersionStages, ['AWSCURRENT']);
  t.type(cur.CreatedDate, Date);
  const prev = await sm.send(
    new GetSecretValueCommand({ SecretId: 'gg/dev/claims-certificate', VersionStage: 'AWSPREVIOUS' }),
  );
  t.equal(prev.SecretString, '{"a":1}');
  const d = await sm.send(new DescribeSecretCommand({ SecretId: created.ARN }));
  t.equal(Object.keys(d.VersionIdsToStages ?? {}).length, 2);
  await t.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'nope' })), {
    name: 'ResourceNotFoundException',
    message: "Secrets Manager can't find the specified secret.",
    $metadata: { httpStatusCode: 400 },
  });
});

t.test('injected throttling is retried by the SDK; the server sees every attempt', async (t) => {
  const { iot, sm, gg } = clients(s);
  s.throttle('CreateKeysAndCertificate', 2);
  const out = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  t.equal(out.$metadata.attempts, 3);
  t.same(
    s.calls('CreateKeysAndCertificate').map((r) => r.status),
    [400, 400, 200],
    'IoT throttles with 400',
  );
  s.throttle('GetSecretValue', 5);
  await sm.send(new CreateSecretCommand({ Name: 'x', SecretString: 'y' }));
  await t.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'x' })), {
    name: 'ThrottlingException',
    $metadata: { attempts: 3 },
  });
  t.same(
    s.calls('GetSecretValue').map((r) => r.headers['amz-sdk-request']),
    ['attempt=1; max=3', 'attempt=2; max=3', 'attempt=3; max=3'],
  );
  s.throttle('ListCoreDevices', 1);
  s.failWith('ListCoreDevices', 503, 1);
  const l = await gg.send(new ListCoreDevicesCommand({}));
  t.same(l.coreDevices, []);
  t.same(
    s.calls('ListCoreDevices').map((r) => r.status),
    [429, 503, 200],
    'Greengrass v2 throttles with 429',
  );
  s.failWith('DescribeEndpoint', 501, 1);
  await t.rejects(iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' })), {
    name: 'InternalFailureException',
    $metadata: { httpStatusCode: 501, attempts: 1 },
  });
});

t.test('Greengrass v2 throttle carries Retry-After; latency delays a call', async (t) => {
  s.injectFault('ListCoreDevices', { kind: 'throttle', retryAfterSeconds: 7 });
  const res = await fetch(`${s.url}/greengrass/v2/coreDevices`);
  t.equal(res.status, 429);
  t.equal(res.headers.get('retry-after'), '7');
  t.equal(res.headers.get('x-amzn-errortype'), 'ThrottlingException');
  s.setLatency('DescribeEndpoint', 300);
  const t0 = Date.now();
  await clients(s).iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
  t.ok(Date.now() - t0 >= 290, 'delayed by the configured latency');
});

t.test('CLI mode: listening line, control endpoint, state persisted 0600', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aws-standin-cli-'));
  const stateFile = join(dir, 'state.json');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(REPO_ROOT, 'standins/aws/cli.ts'),
      '--port',
      '0',
      '--ca-dir',
      join(dir, 'ca'),
      '--state',
      stateFile,
      '--iot-data-endpoint',
      '10.0.2.2',
      '--iot-cred-endpoint',
      '10.0.2.2',
      '--policy',
      'ClaimPolicy',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => child.kill('SIGTERM'));
  const url = await new Promise<string>((res, rej) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /listening (http:\/\/127\.0\.0\.1:\d+)/.exec(buf);
      if (m) res(m[1]);
    });
    child.once('exit', (code) => rej(new Error(`exited ${code}`)));
  });
  await fetch(`${url}/__standin/faults`, {
    method: 'POST',
    body: JSON.stringify({ op: 'CreateSecret', kind: 'error', status: 500, count: 1 }),
  });
  const sm = new SecretsManagerClient({ endpoint: url, region: 'us-east-1', credentials, retryStrategy: fast });
  await sm.send(new CreateSecretCommand({ Name: 'p/dev/claims-certificate', SecretString: 'top-secret-value' }));
  const iot = new IoTClient({ endpoint: url, region: 'us-east-1', credentials, retryStrategy: fast });
  t.equal((await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress, '10.0.2.2');
  const recs = (await (await fetch(`${url}/__standin/requests`)).json()) as {
    op: string;
    status: number;
    body: { SecretString?: string };
  }[];
  t.same(
    recs.filter((r) => r.op === 'CreateSecret').map((r) => r.status),
    [500, 200],
    'injected 500 then retried',
  );
  t.notOk(JSON.stringify(recs).includes('top-secret-value'), 'secret values redacted on the control endpoint');
  t.equal(statSync(stateFile).mode & 0o777, 0o600);
  const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
  t.ok(saved.secrets['p/dev/claims-certificate'], 'state persisted');
  t.ok(saved.policies.ClaimPolicy, '--policy seeded');
});
