// The AWS wire STAND-IN where it once parted from the AWS API reference (found by the moto comparison or listed in
// issue 17), driven by the real @aws-sdk v3 clients. Sources: docs/facts/aws-wire.md.
import t from 'tap';
import {
  AddThingToThingGroupCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DescribeEndpointCommand,
  IoTClient,
  ListThingsInThingGroupCommand,
} from '@aws-sdk/client-iot';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createCa } from '../../standins/pki.ts';
import { startAwsStandin, type AwsStandin } from '../../standins/aws/server.ts';
import { loadState } from '../../standins/aws/state.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ca = createCa();
const credentials = { accessKeyId: 'AKIDFIDELITY', secretAccessKey: 'fidelity' };
const iotIn = (s: AwsStandin, region: string) => new IoTClient({ endpoint: s.url, region, credentials });
/** DescribeEndpoint's answer for one type. */
const endpointOf = async (iot: IoTClient, endpointType: string) =>
  (await iot.send(new DescribeEndpointCommand({ endpointType }))).endpointAddress ?? '';

let s: AwsStandin;
t.beforeEach(async () => {
  s = await startAwsStandin({ ca, endpoints: { region: 'eu-west-1' } });
});
t.afterEach(() => s.close());

t.test('CreateSecret: the ARN ends in the name, a hyphen and six random alphanumeric characters', async (t) => {
  const sm = new SecretsManagerClient({ endpoint: s.url, region: 'eu-west-1', credentials });
  const arns = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const out = await sm.send(new CreateSecretCommand({ Name: `gg/claim-${i}`, SecretString: 'x' }));
    t.match(out.ARN, new RegExp(`^arn:aws:secretsmanager:eu-west-1:123456789012:secret:gg/claim-${i}-[A-Za-z0-9]{6}$`));
    arns.add(out.ARN!.slice(-6));
  }
  t.ok(arns.size > 15, 'the suffixes are random');
  sm.destroy();
});

t.test('DescribeEndpoint answers for the region the request was signed for, stable per region', async (t) => {
  const answers: Record<string, string[]> = {};
  for (const region of ['eu-west-1', 'us-west-2', 'ap-southeast-2']) {
    const iot = iotIn(s, region);
    for (const type of ['iot:Data-ATS', 'iot:Data-ATS', 'iot:CredentialProvider', 'iot:Data', 'iot:Jobs']) {
      (answers[region] ??= []).push(await endpointOf(iot, type));
    }
    iot.destroy();
  }
  for (const [region, [ats, again, cred, data, jobs]] of Object.entries(answers)) {
    const atsRe = new RegExp(`^[a-z0-9]{14}-ats\\.iot\\.${region}\\.amazonaws\\.com$`);
    t.match(ats, atsRe, `${region}: iot:Data-ATS names the region`);
    t.equal(again, ats, `${region}: the same endpoint on every call`);
    t.match(cred, new RegExp(`^[a-z0-9]{14}\\.credentials\\.iot\\.${region}\\.amazonaws\\.com$`));
    t.match(data, new RegExp(`^[a-z0-9]{14}\\.iot\\.${region}\\.amazonaws\\.com$`));
    t.match(jobs, new RegExp(`^[a-z0-9]{14}\\.jobs\\.iot\\.${region}\\.amazonaws\\.com$`));
  }
  t.not(answers['eu-west-1']![0], answers['us-west-2']![0], 'regions have different endpoints');
});

t.test('DescribeEndpoint: configured endpoints (the pipeline 10.0.2.2) belong to the configured region', async (t) => {
  const endpoints = { region: 'us-east-1', iotDataEndpoint: '10.0.2.2', iotCredEndpoint: '10.0.2.3' };
  const c = await startAwsStandin({ ca, endpoints });
  t.teardown(() => c.close());
  const east = iotIn(c, 'us-east-1');
  const west = iotIn(c, 'us-west-2');
  t.equal(await endpointOf(east, 'iot:Data-ATS'), '10.0.2.2');
  t.equal(await endpointOf(east, 'iot:CredentialProvider'), '10.0.2.3');
  t.match(await endpointOf(west, 'iot:Data-ATS'), /-ats\.iot\.us-west-2\.amazonaws\.com$/);
  east.destroy();
  west.destroy();
});

t.test('DescribeEndpoint answers survive a restart on the saved state', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'gg-aws-state-')), 'state.json');
  const a = await startAwsStandin({ ca, state: loadState(file, { region: 'eu-west-1' }), stateFile: file });
  const first = await endpointOf(iotIn(a, 'sa-east-1'), 'iot:Data-ATS');
  // A change, so the state is saved.
  await iotIn(a, 'eu-west-1').send(new CreateThingGroupCommand({ thingGroupName: 'g' }));
  await a.close();
  const b = await startAwsStandin({ ca, state: loadState(file, { region: 'eu-west-1' }), stateFile: file });
  t.equal(await endpointOf(iotIn(b, 'sa-east-1'), 'iot:Data-ATS'), first);
  await b.close();
});

t.test('AddThingToThingGroup of a thing that does not exist: ResourceNotFoundException, no ghost member', async (t) => {
  const iot = iotIn(s, 'eu-west-1');
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'Cores' }));
  const notFound = { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } };
  const ghost = new AddThingToThingGroupCommand({ thingGroupName: 'Cores', thingName: 'ghost-core' });
  await t.rejects(iot.send(ghost), notFound);
  const thingArn = 'arn:aws:iot:eu-west-1:123456789012:thing/ghost-core';
  await t.rejects(iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'Cores', thingArn })), notFound);
  t.same((await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'Cores' }))).things, []);
  await iot.send(new CreateThingCommand({ thingName: 'real-core' }));
  await iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'Cores', thingName: 'real-core' }));
  t.same((await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'Cores' }))).things, ['real-core']);
  iot.destroy();
});
