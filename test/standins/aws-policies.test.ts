// The stand-in's IoT policy lifecycle (DeletePolicy, ListTargetsForPolicy, policy versions), driven by the real
// @aws-sdk/client-iot: the wire shapes, paging and the errors the API reference lists.
import t from 'tap';
import {
  IoTClient,
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DetachPolicyCommand,
  GetPolicyCommand,
  ListPolicyVersionsCommand,
  ListTargetsForPolicyCommand,
} from '@aws-sdk/client-iot';
import { ConfiguredRetryStrategy } from '@smithy/util-retry';
import { createCa } from '../../standins/pki.ts';
import { startAwsStandin, type AwsStandin } from '../../standins/aws/server.ts';

const ca = createCa();
const DOC = '{"Version":"2012-10-17","Statement":[]}';
const DOC2 = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}';

let s: AwsStandin;
let iot: IoTClient;
t.beforeEach(async () => {
  const endpoints = { iotDataEndpoint: '10.0.2.2', iotCredEndpoint: '10.0.2.2', region: 'eu-west-1' };
  s = await startAwsStandin({ ca, endpoints });
  iot = new IoTClient({
    endpoint: s.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    retryStrategy: new ConfiguredRetryStrategy(1, () => 0),
  });
});
t.afterEach(() => {
  iot.destroy();
  return s.close();
});

const newCert = async () =>
  (await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))).certificateArn!;
const NOT_FOUND = { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } };
const CONFLICT = { name: 'DeleteConflictException', $metadata: { httpStatusCode: 409 } };
const INVALID = { name: 'InvalidRequestException', $metadata: { httpStatusCode: 400 } };
const LIMIT = { name: 'VersionsLimitExceededException', $metadata: { httpStatusCode: 409 } };

t.test('DeletePolicy: 409 while attached to any certificate, 200 once detached, then 404', async (t) => {
  await iot.send(new CreatePolicyCommand({ policyName: 'P', policyDocument: DOC }));
  const [a, b] = [await newCert(), await newCert()];
  for (const target of [a, b]) await iot.send(new AttachPolicyCommand({ policyName: 'P', target }));
  await iot.send(new DetachPolicyCommand({ policyName: 'P', target: a }));
  await t.rejects(iot.send(new DeletePolicyCommand({ policyName: 'P' })), CONFLICT, 'still attached to b');
  t.ok(s.state.policies.P, 'kept');
  await iot.send(new DetachPolicyCommand({ policyName: 'P', target: b }));
  await iot.send(new DeletePolicyCommand({ policyName: 'P' }));
  t.equal(s.calls('DeletePolicy').at(-1)!.method, 'DELETE');
  t.equal(s.calls('DeletePolicy').at(-1)!.path, '/policies/P');
  await t.rejects(iot.send(new GetPolicyCommand({ policyName: 'P' })), { name: 'ResourceNotFoundException' });
  await t.rejects(iot.send(new DeletePolicyCommand({ policyName: 'P' })), NOT_FOUND, 'deleting again: 404');
});

t.test('ListTargetsForPolicy: the certificates it is attached to, paged with pageSize / marker', async (t) => {
  await iot.send(new CreatePolicyCommand({ policyName: 'Shared', policyDocument: DOC }));
  const certs: string[] = [];
  for (let i = 0; i < 5; i++) certs.push(await newCert());
  for (const target of certs) await iot.send(new AttachPolicyCommand({ policyName: 'Shared', target }));
  const first = await iot.send(new ListTargetsForPolicyCommand({ policyName: 'Shared', pageSize: 2 }));
  t.same(s.calls('ListTargetsForPolicy').at(-1)!.query, { pageSize: '2' });
  t.equal(s.calls('ListTargetsForPolicy').at(-1)!.path, '/policy-targets/Shared');
  t.equal(first.targets?.length, 2);
  t.ok(first.nextMarker, 'a next page');
  const seen = [...first.targets!];
  let marker = first.nextMarker;
  while (marker) {
    const r = await iot.send(new ListTargetsForPolicyCommand({ policyName: 'Shared', pageSize: 2, marker }));
    seen.push(...r.targets!);
    marker = r.nextMarker;
  }
  t.same(seen.sort(), [...certs].sort(), 'every target once');
  await iot.send(new CreatePolicyCommand({ policyName: 'Lonely', policyDocument: DOC }));
  const none = await iot.send(new ListTargetsForPolicyCommand({ policyName: 'Lonely' }));
  t.same(none.targets, []);
  t.notOk(none.nextMarker);
  await t.rejects(iot.send(new ListTargetsForPolicyCommand({ policyName: 'Nope' })), NOT_FOUND);
});

t.test('policy versions: DeletePolicy refuses non-default versions until they are deleted', async (t) => {
  await iot.send(new CreatePolicyCommand({ policyName: 'V', policyDocument: DOC }));
  const v2 = await iot.send(
    new CreatePolicyVersionCommand({ policyName: 'V', policyDocument: DOC2, setAsDefault: true }),
  );
  t.equal(v2.policyVersionId, '2');
  t.equal(v2.isDefaultVersion, true);
  t.same(s.calls('CreatePolicyVersion').at(-1)!.query, { setAsDefault: 'true' });
  const now = await iot.send(new GetPolicyCommand({ policyName: 'V' }));
  t.equal(now.policyDocument, DOC2, 'the default is the new one');
  const list = await iot.send(new ListPolicyVersionsCommand({ policyName: 'V' }));
  t.same(
    list.policyVersions?.map((v) => [v.versionId, v.isDefaultVersion]),
    [
      ['1', false],
      ['2', true],
    ],
  );
  t.type(list.policyVersions?.[0]?.createDate, Date);
  await t.rejects(iot.send(new DeletePolicyCommand({ policyName: 'V' })), CONFLICT);
  const deleteVersion = (policyVersionId: string) =>
    iot.send(new DeletePolicyVersionCommand({ policyName: 'V', policyVersionId }));
  await t.rejects(deleteVersion('2'), INVALID, 'not the default');
  await deleteVersion('1');
  t.equal(s.calls('DeletePolicyVersion').at(-1)!.path, '/policies/V/version/1');
  await t.rejects(deleteVersion('1'), NOT_FOUND);
  await iot.send(new DeletePolicyCommand({ policyName: 'V' }));
  t.notOk(s.state.policies.V);
});

t.test('CreatePolicyVersion: at most five versions (409 VersionsLimitExceededException)', async (t) => {
  await iot.send(new CreatePolicyCommand({ policyName: 'Five', policyDocument: DOC }));
  const version = () => iot.send(new CreatePolicyVersionCommand({ policyName: 'Five', policyDocument: DOC2 }));
  for (let i = 0; i < 4; i++) await version();
  await t.rejects(version(), LIMIT);
  const now = await iot.send(new GetPolicyCommand({ policyName: 'Five' }));
  t.equal(now.policyDocument, DOC, 'setAsDefault absent: default unchanged');
});
