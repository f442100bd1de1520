// IoT policy evaluation in the provisioning stand-in (standins/provisioning/policy.ts): the rules, then the
// fleet-provisioning guide's claim policy and a thing-variable core policy enforced on live connections, driven by
// the AWS IoT Device SDK v2 (MQTT 5).
import t from 'tap';
import { createCa, issueCertificate } from '../../standins/pki.ts';
import { startProvisioningStandin } from '../../standins/provisioning/server.ts';
import { isAllowed, type PolicyInput } from '../../standins/provisioning/policy.ts';
import { accepted, collectClosedClients, connect5, identity5, stop5 } from './sdk-clients.ts';

const ARN = 'arn:aws:iot:us-east-1:123456789012';
const ctx = { region: 'us-east-1', accountId: '123456789012', clientId: 'edge-1', thingName: 'edge-1' };
t.teardown(() => setTimeout(collectClosedClients, 50));

t.test('rules: default deny, Deny wins, wildcards, policy variables', async (t) => {
  const doc: PolicyInput = {
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}:client/\${iot:Connection.Thing.ThingName}` },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: `${ARN}:topic/things/\${iot:ClientId}/*` },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${ARN}:topicfilter/things/\${iot:ClientId}/#` },
      { Effect: 'Deny', Action: 'iot:*', Resource: `${ARN}:topic/things/*/secret` },
    ],
  };
  t.ok(isAllowed([doc], 'iot:Connect', 'edge-1', ctx));
  t.notOk(
    isAllowed([doc], 'iot:Connect', 'edge-1#2', { ...ctx, clientId: 'edge-1#2', thingName: undefined }),
    'a client ID that names no attached Thing: the thing variable does not resolve',
  );
  t.notOk(isAllowed([doc], 'iot:Connect', 'edge-2', ctx), 'another client ID');
  t.ok(isAllowed([doc], 'iot:Publish', 'things/edge-1/telemetry', ctx));
  t.notOk(isAllowed([doc], 'iot:Publish', 'things/edge-2/telemetry', ctx), 'the variable pins the topic');
  t.notOk(isAllowed([doc], 'iot:Publish', 'things/edge-1/secret', ctx), 'an explicit Deny wins');
  t.ok(isAllowed([doc], 'iot:Subscribe', 'things/edge-1/#', ctx));
  t.notOk(
    isAllowed([doc], 'iot:Subscribe', 'things/edge-1/+', ctx),
    '+ and # are literal characters in a policy resource',
  );
  t.notOk(isAllowed([doc], 'iot:Subscribe', 'things/edge-1/#', { ...ctx, region: 'eu-west-1' }), 'another region');
  t.notOk(isAllowed([], 'iot:Connect', 'edge-1', ctx), 'no policy: denied');
  const attached: PolicyInput = {
    Statement: {
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: '*',
      Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
    },
  };
  t.ok(isAllowed([attached], 'iot:Connect', 'edge-1', ctx));
  t.notOk(isAllowed([attached], 'iot:Connect', 'x', { ...ctx, clientId: 'x', thingName: undefined }));
});

const TEMPLATE = 'GoldenImageFleetTemplate';
/** The claim policy of the Greengrass fleet-provisioning setup guide, for one template. */
const claimPolicy = (template: string): PolicyInput => ({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive'],
      Resource: [
        `${ARN}:topic/$aws/certificates/create/*`,
        `${ARN}:topic/$aws/provisioning-templates/${template}/provision/*`,
      ],
    },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: [
        `${ARN}:topicfilter/$aws/certificates/create/*`,
        `${ARN}:topicfilter/$aws/provisioning-templates/${template}/provision/*`,
      ],
    },
  ],
});
const corePolicy = (): PolicyInput => ({
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}:client/\${iot:Connection.Thing.ThingName}` },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive'],
      Resource: `${ARN}:topic/things/\${iot:Connection.Thing.ThingName}/*`,
    },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: `${ARN}:topicfilter/things/\${iot:Connection.Thing.ThingName}/*`,
    },
  ],
});

t.test('enforced: the guide claim policy provisions; the core connects only as its Thing', async (t) => {
  const ca = createCa();
  const claim = issueCertificate(ca, { commonName: 'claim' });
  const s = await startProvisioningStandin({
    ca,
    templateName: TEMPLATE,
    policies: { claim: claimPolicy(TEMPLATE), core: corePolicy },
  });
  t.teardown(() => s.stop());
  const at = { port: s.port, ca: ca.certificatePem };
  const client = await connect5(at, claim, 'claim-policy');
  const id = identity5(client);
  t.teardown(async () => {
    id.close();
    await stop5(client);
  });
  const created = accepted(await id.createKeysAndCertificate());
  accepted(await id.registerThing(TEMPLATE, created.certificateOwnershipToken as string, { ThingName: 'core-1' }));
  const device = { certificatePem: created.certificatePem as string, privateKeyPem: created.privateKey as string };
  await stop5(await connect5(at, device, 'core-1'));
  t.pass('the core connects with its Thing name as client ID');
  const second = await connect5(at, device, 'core-1#2').then(
    () => null,
    (e: Error & { reasonCode?: number }) => e,
  );
  t.equal(second?.reasonCode, 0x87, "the nucleus's second connection (core-1#2) is refused by a thing-variable policy");
  const wrong = await connect5(at, device, 'core-2').then(
    () => null,
    (e: Error & { reasonCode?: number }) => e,
  );
  t.equal(wrong?.reasonCode, 0x87, 'another client ID is refused');
});

t.test('enforced: a claim policy for another template cannot register', async (t) => {
  const ca = createCa();
  const claim = issueCertificate(ca, { commonName: 'claim' });
  const s = await startProvisioningStandin({
    ca,
    templateName: TEMPLATE,
    policies: { claim: claimPolicy('OtherTemplate'), core: corePolicy },
  });
  t.teardown(() => s.stop());
  const client = await connect5({ port: s.port, ca: ca.certificatePem }, claim, 'claim-wrong');
  const id = identity5(client);
  t.teardown(async () => {
    id.close();
    await stop5(client);
  });
  const created = accepted(await id.createKeysAndCertificate());
  await t.rejects(
    id.registerThing(TEMPLATE, created.certificateOwnershipToken as string, { ThingName: 'core-x' }),
    'the SDK request fails',
  );
  t.same(s.registrations, [], 'nothing registered');
});
