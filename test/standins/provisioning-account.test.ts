// One account across the two stand-ins, as the offline pipeline runs them: the provisioning stand-in (MQTT) with the
// stack's IoT policies and pre-provisioning hook, reporting registrations and core status to the AWS stand-in, whose
// registry the hook reads. A core that provisioned and reported keeps its name; a second machine asking for it is
// refused, and the registry shows one certificate on the Thing.
import t from 'tap';
import type { MqttClient } from 'mqtt';
import { connectDevice, request, type TlsIdentity } from '../../harness/mqtt-device.ts';
import { CreateThingGroupCommand, IoTClient, ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import { GetCoreDeviceCommand, GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { createCa, issueCertificate } from '../../standins/pki.ts';
import { startAwsStandin } from '../../standins/aws/server.ts';
import {
  startProvisioningStandin,
  CREATE_TOPIC,
  provisionTopic,
  type ProvisioningStandin,
} from '../../standins/provisioning/server.ts';
import { accountFeed } from '../../standins/provisioning/account-feed.ts';
import { loadStackHook } from '../../harness/stack-hook.ts';
import { stackIotPolicies } from '../../cloudformation/template.ts';

const ca = createCa();
const claim = issueCertificate(ca, { commonName: 'claim' });
const TEMPLATE = 'GreengrassFleetProvisioningTemplate';
const STACK = { region: 'us-east-1', accountId: '123456789012' };
const credentials = { accessKeyId: 'AKIDACCOUNT', secretAccessKey: 'account' };
const hook = loadStackHook();

const connect = (s: ProvisioningStandin, id: TlsIdentity, clientId: string): Promise<MqttClient> =>
  connectDevice(s, id, { trust: ca.certificatePem, clientId });

async function provision(s: ProvisioningStandin, thingName: string) {
  const c = await connect(s, claim, `claim-${thingName}-${Math.random().toString(36).slice(2)}`);
  try {
    const created = await request(c, CREATE_TOPIC, {});
    const reg = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: created.body.certificateOwnershipToken,
      parameters: { ThingName: thingName, ThingGroupName: 'BranchCores' },
    });
    return {
      device: {
        certificatePem: created.body.certificatePem as string,
        privateKeyPem: created.body.privateKey as string,
        certificateId: created.body.certificateId as string,
      },
      reg,
    };
  } finally {
    await c.endAsync();
  }
}

const until = async (what: string, cond: () => Promise<boolean>) => {
  for (let i = 0; i < 100; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

t.test('a reported core keeps its name; a second machine asking for it is refused by the stack hook', async (t) => {
  const aws = await startAwsStandin({ ca });
  t.teardown(() => aws.close());
  const iot = new IoTClient({ endpoint: aws.url, region: STACK.region, credentials });
  const gg = new GreengrassV2Client({ endpoint: aws.url, region: STACK.region, credentials });
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'BranchCores' }));
  const s = await startProvisioningStandin({
    ca,
    templateName: TEMPLATE,
    ...STACK,
    account: accountFeed(aws.url, STACK.region, STACK.accountId),
    policies: stackIotPolicies(STACK),
    preProvisioningHook: hook.createHandler({ clientConfig: { endpoint: aws.url, region: STACK.region, credentials } }),
  });
  t.teardown(() => s.stop());

  const first = await provision(s, 'branch-017');
  t.equal(first.reg.outcome, 'accepted', JSON.stringify(first.reg.body));
  const principals = async () =>
    ((await iot.send(new ListThingPrincipalsCommand({ thingName: 'branch-017' }))).principals ?? []).map((p) =>
      p.split('/').pop(),
    );
  await until('the registration in the registry', async () => (await principals().catch(() => [])).length === 1);

  // The nucleus connects as its thing name and publishes its fleet status; the per-core policy allows exactly that.
  const core = await connect(s, first.device, 'branch-017');
  await core.publishAsync(
    '$aws/things/branch-017/greengrassv2/health/json',
    JSON.stringify({
      ggcVersion: '2.16.0',
      platform: 'linux',
      architecture: 'amd64',
      thing: 'branch-017',
      overallDeviceStatus: 'HEALTHY',
      sequenceNumber: 1,
      timestamp: Date.now(),
      messageType: 'COMPLETE',
      trigger: 'NUCLEUS_LAUNCH',
      components: [],
    }),
    { qos: 1 },
  );
  await core.endAsync();
  await until(
    'the core device',
    async () =>
      (await gg.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'branch-017' })).catch(() => null))?.status ===
      'HEALTHY',
  );

  const second = await provision(s, 'branch-017');
  t.equal(second.reg.outcome, 'rejected');
  t.match(second.reg.body, { statusCode: 403, errorCode: 'AccessDenied', errorMessage: /pre-provisioning hook/ });
  t.same(
    await principals(),
    [first.device.certificateId],
    "the Thing still holds only the first machine's certificate",
  );
  t.equal(s.takeovers.length, 0, 'no takeover');
});

t.test("with the stack's policies, a claim certificate cannot publish as a core", async (t) => {
  const s = await startProvisioningStandin({ ca, templateName: TEMPLATE, ...STACK, policies: stackIotPolicies(STACK) });
  t.teardown(() => s.stop());
  const c = await connect(s, claim, 'branch-017');
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.publish('$aws/things/branch-017/greengrassv2/health/json', '{}', { qos: 1 });
  await closed;
  t.pass('the broker closed the connection that published outside the claim policy');
});
