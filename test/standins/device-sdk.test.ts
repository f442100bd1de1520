// Independent check (issue 17, check 1): the AWS IoT Device SDK v2 for JavaScript runs the flow of AWS's own
// fleet-provisioning samples against the provisioning stand-in, over MQTT 3.1.1 and over MQTT 5:
// CreateKeysAndCertificate, RegisterThing, then a new connection with the issued device certificate.
// The SDK's parsers read every reply; a stand-in answer the SDK cannot read, or a divergence from what AWS IoT
// does, fails here.
import t from 'tap';
import { createPrivateKey } from 'node:crypto';
import { createCa, issueCertificate, type KeyPair } from '../../standins/pki.ts';
import { startProvisioningStandin, type ProvisioningStandin } from '../../standins/provisioning/server.ts';
import {
  accepted,
  collectClosedClients,
  connect311,
  connect5,
  identity311,
  identity5,
  rejected,
  stop5,
  type Endpoint,
} from './sdk-clients.ts';

const ca = createCa();
const claim = issueCertificate(ca, { commonName: 'claim' });
const TEMPLATE = 'GoldenImageFleetTemplate';
t.teardown(() => setTimeout(collectClosedClients, 50));

async function standin(
  t: { teardown(fn: () => unknown): void },
  opts: Partial<Parameters<typeof startProvisioningStandin>[0]> = {},
): Promise<{ s: ProvisioningStandin; at: Endpoint }> {
  const s = await startProvisioningStandin({ ca, templateName: TEMPLATE, ...opts });
  t.teardown(() => s.stop());
  return { s, at: { port: s.port, ca: ca.certificatePem } };
}

function deviceIdentity(created: { certificatePem?: string; privateKey?: string }): KeyPair {
  if (!created.certificatePem || !created.privateKey) throw new Error('reply without certificate or key');
  return { certificatePem: created.certificatePem, privateKeyPem: created.privateKey };
}

t.test('MQTT 3.1.1 + IotIdentityClient: keys and certificate, RegisterThing, then connect as the Thing', async (t) => {
  const { s, at } = await standin(t);
  const conn = await connect311(at, claim, 'claim-311');
  const id = identity311(conn);
  const created = accepted(await id.createKeysAndCertificate());
  t.match(created.certificateId, /^[0-9a-f]{64}$/, 'certificateId: 64 hex digits');
  t.ok(created.certificateOwnershipToken, 'an ownership token');
  const device = deviceIdentity(created);
  t.match(device.privateKeyPem, /^-----BEGIN RSA PRIVATE KEY-----\n/, 'a PKCS#1 RSA key, as AWS issues it');
  t.equal(createPrivateKey(device.privateKeyPem).asymmetricKeyDetails?.modulusLength, 2048);
  await t.rejects(connect311(at, device, 'edge-311'), 'the new certificate cannot connect before RegisterThing');
  const reg = accepted(
    await id.registerThing(TEMPLATE, created.certificateOwnershipToken as string, { ThingName: 'edge-311' }),
  );
  t.equal(reg.thingName, 'edge-311');
  t.same(reg.deviceConfiguration, {});
  await conn.disconnect();
  const asThing = await connect311(at, device, 'edge-311');
  t.pass('the device certificate connects once registered');
  await asThing.disconnect();
  t.same(
    s.registrations.map((r) => [r.thingName, r.certificateId]),
    [['edge-311', created.certificateId]],
  );
});

t.test('MQTT 5 + IotIdentityClientv2 (the current sample): the same flow', async (t) => {
  const { s, at } = await standin(t);
  const client = await connect5(at, claim, 'claim-5');
  const id = identity5(client);
  t.teardown(async () => {
    id.close();
    await stop5(client);
  });
  const created = accepted(await id.createKeysAndCertificate());
  const device = deviceIdentity(created);
  const early = await connect5(at, device, 'edge-5').then(
    () => null,
    (err: Error & { reasonCode?: number }) => err,
  );
  t.equal(
    early?.reasonCode,
    0x87,
    'before RegisterThing the device certificate is refused: CONNACK 0x87 Not authorized',
  );
  const reg = accepted(
    await id.registerThing(TEMPLATE, created.certificateOwnershipToken as string, { ThingName: 'edge-5' }),
  );
  t.equal(reg.thingName, 'edge-5');
  const asThing = await connect5(at, device, 'edge-5');
  t.pass('the device certificate connects over MQTT 5 once registered');
  await stop5(asThing);
  t.same(
    s.registrations.map((r) => r.thingName),
    ['edge-5'],
  );
});

t.test(
  'rejected replies the SDK parses: bad, spent token; missing parameters; unknown template (MQTT 5)',
  async (t) => {
    const { at } = await standin(t);
    const client = await connect5(at, claim, 'claim-rejects');
    const id = identity5(client);
    t.teardown(async () => {
      id.close();
      await stop5(client);
    });
    const bad = rejected(await id.registerThing(TEMPLATE, 'not-a-token', { ThingName: 'edge-a' }));
    t.match(bad, { statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken', errorMessage: /not valid/ });
    const created = accepted(await id.createKeysAndCertificate());
    const token = created.certificateOwnershipToken as string;
    const missing = rejected(await id.registerThing(TEMPLATE, token, { Serial: '42' }));
    t.match(missing, { statusCode: 400, errorCode: 'InvalidParameters', errorMessage: /ThingName/ });
    const unknown = rejected(await id.registerThing('NoSuchTemplate', token, { ThingName: 'edge-a' }));
    t.match(unknown, { statusCode: 404, errorCode: 'ResourceNotFoundException', errorMessage: /NoSuchTemplate/ });
    accepted(await id.registerThing(TEMPLATE, token, { ThingName: 'edge-a' }));
    const spent = rejected(await id.registerThing(TEMPLATE, token, { ThingName: 'edge-a' }));
    t.match(spent, {
      statusCode: 400,
      errorCode: 'InvalidCertificateOwnershipToken',
      errorMessage: /already been used/,
    });
  },
);

t.test('rejected replies over MQTT 3.1.1: no token at all; throttling', async (t) => {
  const { s, at } = await standin(t, { ratePerSecond: 1 });
  const conn = await connect311(at, claim, 'claim-throttle');
  t.teardown(() => conn.disconnect());
  const id = identity311(conn);
  const token = accepted(await id.createKeysAndCertificate()).certificateOwnershipToken as string;
  // The token bucket holds one call (R = 1): the first RegisterThing takes it, the next one sent as soon as the first
  // is answered (the sample's order) is throttled.
  const noToken = rejected(await id.registerThing(TEMPLATE, '', { ThingName: 'edge-t' }));
  t.match(noToken, { statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' });
  const throttled = rejected(await id.registerThing(TEMPLATE, token, { ThingName: 'edge-t0' }));
  t.match(throttled, { statusCode: 429, errorCode: 'ThrottlingException' });
  await new Promise((r) => setTimeout(r, 1100));
  accepted(await id.registerThing(TEMPLATE, token, { ThingName: 'edge-t0' }));
  t.same(
    s.registrations.map((r) => r.thingName),
    ['edge-t0'],
    'a throttled request registers nothing',
  );
});

t.test(
  'a second RegisterThing for the same ThingName (the stack template: REPLACE) is accepted, as by IoT Core',
  async (t) => {
    const { s, at } = await standin(t);
    const client = await connect5(at, claim, 'claim-dup');
    const id = identity5(client);
    t.teardown(async () => {
      id.close();
      await stop5(client);
    });
    const devices: KeyPair[] = [];
    for (let i = 0; i < 2; i++) {
      const created = accepted(await id.createKeysAndCertificate());
      const reg = accepted(
        await id.registerThing(TEMPLATE, created.certificateOwnershipToken as string, { ThingName: 'twin' }),
      );
      t.equal(reg.thingName, 'twin', `registration ${i + 1} accepted`);
      devices.push(deviceIdentity(created));
    }
    t.equal(s.principalsOf('twin').length, 2, 'the Thing holds two certificates');
    t.equal(s.takeovers.length, 1, 'the stand-in records the takeover');
    for (const [i, d] of devices.entries()) await stop5(await connect5(at, d, `twin-${i}`));
    t.pass('both machines connect with their own certificate');
  },
);

t.test('the SDK reads the rejection of a RegisterThing whose thing group does not exist', async (t) => {
  const { s, at } = await standin(t, { thingGroups: ['golden-fleet'] });
  const conn = await connect311(at, claim, 'claim-groups');
  t.teardown(() => conn.disconnect());
  const id = identity311(conn);
  const created = accepted(await id.createKeysAndCertificate());
  const token = created.certificateOwnershipToken as string;
  const params = { ThingName: 'edge-g', ThingGroupName: 'NoSuchFleet' };
  t.match(rejected(await id.registerThing(TEMPLATE, token, params)), { statusCode: 400, errorMessage: /NoSuchFleet/ });
  t.same(s.registrations, []);
  accepted(await id.registerThing(TEMPLATE, token, { ...params, ThingGroupName: 'golden-fleet' }));
});
