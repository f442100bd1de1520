// The account's other writers, as the AWS stand-in takes them from the provisioning stand-in (another process):
// a RegisterThing with the stack's template, and a nucleus's status report. Read back with the real SDK clients,
// as the builder's fleet commands and the pre-provisioning hook read them.
import t from 'tap';
import { createHash, X509Certificate } from 'node:crypto';
import {
  CreateThingGroupCommand,
  DescribeCertificateCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListThingPrincipalsCommand,
  ListThingsInThingGroupCommand,
} from '@aws-sdk/client-iot';
import { GetCoreDeviceCommand, GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { createCa, issueCertificate } from '../../standins/pki.ts';
import { startAwsStandin, type AwsStandin } from '../../standins/aws/server.ts';

const ca = createCa();
const credentials = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' };

function device() {
  const c = issueCertificate(ca, { commonName: 'AWS IoT Certificate' });
  return {
    certificatePem: c.certificatePem,
    certificateId: createHash('sha256').update(new X509Certificate(c.certificatePem).raw).digest('hex'),
  };
}

async function post(s: AwsStandin, path: string, body: unknown): Promise<number> {
  const r = await fetch(`${s.url}/__standin/${path}`, { method: 'POST', body: JSON.stringify(body) });
  await r.text();
  return r.status;
}

t.test('a registration lands in the IoT registry; a second one under the same name holds the Thing too', async (t) => {
  const s = await startAwsStandin({ ca });
  t.teardown(() => s.close());
  const iot = new IoTClient({ endpoint: s.url, region: 'us-east-1', credentials });
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'BranchCores' }));
  const a = device();
  const b = device();
  const policyDocument = JSON.stringify({ Version: '2012-10-17', Statement: [] });
  t.equal(
    await post(s, 'provisioned', {
      thingName: 'branch-017',
      ...a,
      thingGroups: ['BranchCores'],
      policyName: 'core-branch-017',
      policyDocument,
    }),
    200,
  );
  t.equal(
    await post(s, 'provisioned', {
      thingName: 'branch-017',
      ...b,
      thingGroups: ['BranchCores'],
      policyName: 'core-branch-017',
      policyDocument,
    }),
    200,
  );
  const principals = (await iot.send(new ListThingPrincipalsCommand({ thingName: 'branch-017' }))).principals ?? [];
  t.same(
    principals.map((p) => p.split('/').pop()).sort(),
    [a.certificateId, b.certificateId].sort(),
    'both machines hold the name (OverrideSettings REPLACE)',
  );
  t.equal(
    (await iot.send(new DescribeCertificateCommand({ certificateId: b.certificateId }))).certificateDescription?.status,
    'ACTIVE',
  );
  t.same(
    (await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'BranchCores' }))).things,
    ['branch-017'],
    'one member, not two',
  );
  t.same(
    (
      await iot.send(
        new ListAttachedPoliciesCommand({ target: `arn:aws:iot:us-east-1:123456789012:cert/${a.certificateId}` }),
      )
    ).policies?.map((p) => p.policyName),
    ['core-branch-017'],
  );
});

t.test('a status report makes the core device Greengrass answers for', async (t) => {
  const s = await startAwsStandin({ ca });
  t.teardown(() => s.close());
  const gg = new GreengrassV2Client({ endpoint: s.url, region: 'us-east-1', credentials });
  await t.rejects(gg.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'branch-017' })), {
    name: 'ResourceNotFoundException',
  });
  t.equal(await post(s, 'core-status', { thingName: 'branch-017', status: 'HEALTHY', coreVersion: '2.16.0' }), 200);
  t.match(await gg.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'branch-017' })), {
    status: 'HEALTHY',
    coreVersion: '2.16.0',
  });
});

t.test('malformed reports are refused and change nothing', async (t) => {
  const s = await startAwsStandin({ ca });
  t.teardown(() => s.close());
  t.equal(await post(s, 'provisioned', { thingName: 'bad name', ...device(), thingGroups: [] }), 400);
  t.equal(await post(s, 'provisioned', { thingName: 'ok', certificateId: 'short', certificatePem: 'x' }), 400);
  t.equal(await post(s, 'core-status', { thingName: 'branch-017', status: 'GREAT' }), 400);
  t.same(s.state.coreDevices, {});
  t.same(Object.keys(s.state.certificates), []);
});
