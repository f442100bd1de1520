// The provisioning stand-in with the stack's pre-provisioning hook, as AWS IoT runs it: a device's
// RegisterThing (over MQTT, mTLS with the claim certificate) goes to the template's inline hook code,
// whose AWS clients look at the AWS stand-in; a refusal comes back on /rejected as ACCESS_DENIED and
// nothing is registered.
import t from 'tap';
import type { MqttClient } from 'mqtt';
import { connectDevice, request } from '../../harness/mqtt-device.ts';
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  IoTClient,
} from '@aws-sdk/client-iot';
import { createCa, issueCertificate, type KeyPair } from '../../standins/pki.ts';
import { startAwsStandin, type AwsStandin } from '../../standins/aws/server.ts';
import { reportCoreDevice } from '../../standins/aws/greengrassv2.ts';
import {
  startProvisioningStandin,
  CREATE_TOPIC,
  provisionTopic,
  type ProvisioningStandin,
} from '../../standins/provisioning/server.ts';
import {
  askPreProvisioningHook,
  HOOK_DENIED,
  type PreProvisioningHook,
} from '../../standins/provisioning/pre-provisioning-hook.ts';
import { loadStackHook } from '../../harness/stack-hook.ts';

const ca = createCa();
const claim = issueCertificate(ca, { commonName: 'claim' });
const TEMPLATE = 'GreengrassFleetProvisioningTemplate';
const credentials = { accessKeyId: 'AKIDHOOK', secretAccessKey: 'hook' };
const stackHook = loadStackHook();

const connect = (s: ProvisioningStandin, id: KeyPair): Promise<MqttClient> =>
  connectDevice(s, id, { trust: ca.certificatePem });

/** CreateKeysAndCertificate then RegisterThing, as the FleetProvisioningByClaim plugin does. */
async function provision(s: ProvisioningStandin, params: Record<string, string>) {
  const c = await connect(s, claim);
  try {
    const created = await request(c, CREATE_TOPIC, {});
    const reg = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: created.body.certificateOwnershipToken,
      parameters: params,
    });
    return { created, reg };
  } finally {
    c.end(true);
  }
}

let aws: AwsStandin;
t.before(async () => {
  aws = await startAwsStandin({ ca, endpoints: { region: 'eu-west-1' } });
  // branch-0042 is a working core: its Thing holds an ACTIVE certificate and its nucleus reported.
  const iot = new IoTClient({ endpoint: aws.url, region: 'eu-west-1', credentials });
  await iot.send(new CreateThingCommand({ thingName: 'branch-0042' }));
  const cert = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachThingPrincipalCommand({ thingName: 'branch-0042', principal: cert.certificateArn! }));
  iot.destroy();
  reportCoreDevice(aws.state, { thingName: 'branch-0042' });
});
t.teardown(() => aws.close());

async function withProvisioning(
  t: { teardown(fn: () => unknown): void },
  hook: PreProvisioningHook | undefined,
  fn: (s: ProvisioningStandin) => Promise<void>,
) {
  const s = await startProvisioningStandin({
    ca,
    templateName: TEMPLATE,
    ...(hook ? { preProvisioningHook: hook } : {}),
  });
  t.teardown(() => s.stop());
  await fn(s);
}

const stackHandler = () =>
  stackHook.createHandler({
    clientConfig: { endpoint: aws.url, region: 'eu-west-1', credentials, maxAttempts: 1 },
    log: () => undefined,
  });

t.test("with the stack's hook: a second device asking for a working core's name is refused over MQTT", async (t) => {
  const seen: unknown[] = [];
  const handler = stackHandler();
  await withProvisioning(
    t,
    async (e) => (seen.push(e), handler(e)),
    async (s) => {
      const dup = await provision(s, { ThingName: 'branch-0042', ThingGroupName: 'branch-offices' });
      t.equal(dup.reg.outcome, 'rejected');
      t.same(dup.reg.body, HOOK_DENIED, 'answered as AWS answers a hook refusal (ACCESS_DENIED)');
      t.match(dup.reg.body.errorMessage, /ACCESS_DENIED/);
      t.same(s.registrations, [], 'nothing registered');
      t.match(
        seen[0],
        {
          certificateId: dup.created.body.certificateId,
          certificatePem: dup.created.body.certificatePem,
          claimCertificateId: /^[0-9a-f]{64}$/,
          templateArn: `arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/${TEMPLATE}`,
          parameters: { ThingName: 'branch-0042', ThingGroupName: 'branch-offices' },
        },
        'the hook got the input AWS documents',
      );

      const fresh = await provision(s, { ThingName: 'branch-0043', ThingGroupName: 'branch-offices' });
      t.equal(fresh.reg.outcome, 'accepted', 'a fresh name still provisions');
      t.same(
        s.registrations.map((r) => r.thingName),
        ['branch-0043'],
      );
    },
  );
});

t.test('without a hook the same request is accepted: the hook is what refuses it', async (t) => {
  await withProvisioning(t, undefined, async (s) => {
    const dup = await provision(s, { ThingName: 'branch-0042', ThingGroupName: 'branch-offices' });
    t.equal(dup.reg.outcome, 'accepted');
  });
});

t.test('a hook that throws refuses; parameterOverrides are merged into the parameters', async (t) => {
  await withProvisioning(
    t,
    async () => {
      throw new Error('boom');
    },
    async (s) => {
      const r = await provision(s, { ThingName: 'branch-0050', ThingGroupName: 'g' });
      t.same(r.reg.body, HOOK_DENIED);
    },
  );
  await withProvisioning(
    t,
    async () => ({ allowProvisioning: true, parameterOverrides: { ThingGroupName: 'from-hook' } }),
    async (s) => {
      const r = await provision(s, { ThingName: 'branch-0051', ThingGroupName: 'g' });
      t.equal(r.reg.outcome, 'accepted');
      t.equal(s.registrations[0]?.thingGroupName, 'from-hook');
    },
  );
});

t.test('askPreProvisioningHook: only allowProvisioning === true within the time allows', async (t) => {
  const ev = {
    claimCertificateId: 'a',
    certificateId: 'b',
    certificatePem: '',
    templateArn: 'x',
    clientId: 'c',
    parameters: {},
  };
  t.same(await askPreProvisioningHook(async () => ({ allowProvisioning: true }), ev), { allowProvisioning: true });
  t.same(await askPreProvisioningHook(async () => ({ allowProvisioning: 'true' as unknown as boolean }), ev), {
    allowProvisioning: false,
  });
  t.same(await askPreProvisioningHook(async () => undefined as never, ev), { allowProvisioning: false });
  t.same(
    await askPreProvisioningHook(() => new Promise(() => undefined), ev, 50),
    { allowProvisioning: false },
    'no answer in time',
  );
  t.same(
    await askPreProvisioningHook(
      async () => ({ allowProvisioning: true, parameterOverrides: { A: 1 as unknown as string } }),
      ev,
    ),
    { allowProvisioning: false },
  );
});
