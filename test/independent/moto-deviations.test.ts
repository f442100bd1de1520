// moto's known deviations from AWS (moto-deviations.ts), each shown on moto (with its default iot.use_valid_cert off)
// and checked on the AWS stand-in, which must do what the AWS page says. When moto stops deviating, the moto half
// fails: drop the entry, and the comparison tests can rely on that behaviour.
import t from 'tap';
import { createHash, X509Certificate } from 'node:crypto';
import {
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateProvisioningTemplateCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteThingCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  IoTClient,
  ListCertificatesCommand,
  ListPoliciesCommand,
  ListThingGroupsCommand,
} from '@aws-sdk/client-iot';
import { GetCoreDeviceCommand, GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { ca, startAwsStandin } from '../builder/helpers.ts';
import { startMoto, type MotoServer } from '../../harness/moto.ts';
import { MOTO_DEVIATIONS as D } from './moto-deviations.ts';

const credentials = { accessKeyId: 'AKIDDEVIATION', secretAccessKey: 'deviation' };
const EMPTY_POLICY = '{"Version":"2012-10-17","Statement":[]}';
const TEMPLATE = { templateName: 'T', templateBody: '{}', provisioningRoleArn: 'arn:aws:iam::123456789012:role/R' };
let moto: MotoServer;
let standinUrl: string;
let closeStandin: () => Promise<void>;
t.before(async () => {
  moto = await startMoto({ validCertIds: false });
  const s = await startAwsStandin({ ca, endpoints: { region: 'eu-west-1' } });
  standinUrl = s.url;
  closeStandin = () => s.close();
});
t.teardown(async () => {
  await moto?.stop();
  await closeStandin?.();
});
t.beforeEach(() => moto.reset());

const iot = (url: string) => new IoTClient({ endpoint: url, region: 'eu-west-1', credentials, maxAttempts: 1 });
const both = () => ({ moto: iot(moto.url), standin: iot(standinUrl) });
const derId = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
let n = 0;
const unique = (p: string) => `${p}-${++n}`;

t.test(`certificateIdIsPemHash: ${D.certificateIdIsPemHash.moto}`, async (t) => {
  const c = both();
  const m = await c.moto.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  t.not(m.certificateId, derId(m.certificatePem!), 'moto: not the SHA-256 of the DER');
  const pemHash = createHash('sha256').update(m.certificatePem!).digest('hex');
  t.equal(m.certificateId, pemHash, 'moto: the SHA-256 of the PEM text');
  const s = await c.standin.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  t.equal(s.certificateId, derId(s.certificatePem!), `stand-in: ${D.certificateIdIsPemHash.aws}`);
});

t.test(`noPagination: ${D.noPagination.moto}`, async (t) => {
  for (const [name, client] of Object.entries(both())) {
    for (let i = 0; i < 3; i++) {
      await client.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
      await client.send(new CreatePolicyCommand({ policyName: unique('p'), policyDocument: EMPTY_POLICY }));
      await client.send(new CreateThingGroupCommand({ thingGroupName: unique('g') }));
    }
    const certs = await client.send(new ListCertificatesCommand({ pageSize: 1 }));
    const policies = await client.send(new ListPoliciesCommand({ pageSize: 1 }));
    const groups = await client.send(new ListThingGroupsCommand({ maxResults: 1 }));
    const pages = [certs.certificates?.length, policies.policies?.length, groups.thingGroups?.length];
    const more = [!!certs.nextMarker, !!policies.nextMarker, !!groups.nextToken];
    if (name === 'moto') {
      t.ok(
        pages.every((x) => (x ?? 0) >= 3),
        'moto: every item on the first page',
      );
      t.same(more, [false, false, false], 'moto: no marker');
    } else {
      t.same(pages, [1, 1, 1], `stand-in: ${D.noPagination.aws}`);
      t.same(more, [true, true, true]);
    }
  }
});

t.test(`createThingReplaces: ${D.createThingReplaces.moto}`, async (t) => {
  const c = both();
  const withSite = { thingName: 'x', attributePayload: { attributes: { site: 'a' } } };
  const m1 = await c.moto.send(new CreateThingCommand(withSite));
  const m2 = await c.moto.send(new CreateThingCommand({ thingName: 'x' }));
  t.not(m2.thingId, m1.thingId, 'moto: a new thing under the old name');
  t.same((await c.moto.send(new DescribeThingCommand({ thingName: 'x' }))).attributes, {}, 'moto: attributes dropped');
  await c.standin.send(new CreateThingCommand(withSite));
  const conflict = { name: 'ResourceAlreadyExistsException' };
  const bare = new CreateThingCommand({ thingName: 'x' });
  await t.rejects(c.standin.send(bare), conflict, `stand-in: ${D.createThingReplaces.aws}`);
  const again = await c.standin.send(new CreateThingCommand(withSite));
  t.ok(again.thingId, 'stand-in: the same configuration succeeds');
});

t.test(`deleteMissingThing404: ${D.deleteMissingThing404.moto}`, async (t) => {
  const c = both();
  const missing = new DeleteThingCommand({ thingName: 'never-made' });
  await t.rejects(c.moto.send(missing), { name: 'ResourceNotFoundException' }, 'moto: 404');
  await t.resolves(c.standin.send(missing), `stand-in: ${D.deleteMissingThing404.aws}`);
});

t.test(`describeEndpointRandom: ${D.describeEndpointRandom.moto}`, async (t) => {
  for (const [name, client] of Object.entries(both())) {
    const a = (await client.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress;
    const b = (await client.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }))).endpointAddress;
    if (name === 'moto') t.not(a, b, 'moto: another endpoint on the second call');
    else t.equal(a, b, `stand-in: ${D.describeEndpointRandom.aws}`);
  }
});

t.test(`createThingGroupSameConflict: ${D.createThingGroupSameConflict.moto}`, async (t) => {
  const c = both();
  await c.moto.send(new CreateThingGroupCommand({ thingGroupName: 'same' }));
  const same = new CreateThingGroupCommand({ thingGroupName: 'same' });
  await t.rejects(c.moto.send(same), { name: 'ResourceAlreadyExistsException' }, 'moto: 409');
  await c.standin.send(new CreateThingGroupCommand({ thingGroupName: 'same' }));
  await t.resolves(c.standin.send(same), `stand-in: ${D.createThingGroupSameConflict.aws}`);
});

t.test(`noGreengrassV2 / noFleetProvisioning: ${D.noGreengrassV2.moto}; ${D.noFleetProvisioning.moto}`, async (t) => {
  const gg = new GreengrassV2Client({ endpoint: moto.url, region: 'eu-west-1', credentials, maxAttempts: 1 });
  const err = await gg.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'core' })).then(
    () => null,
    (e: Error) => e,
  );
  t.ok(err, 'moto: GetCoreDevice fails');
  t.not(err?.name, 'ResourceNotFoundException', 'moto: not the modelled "no such core" answer, the API is missing');
  await t.rejects(
    iot(moto.url).send(new CreateProvisioningTemplateCommand(TEMPLATE)),
    'moto: CreateProvisioningTemplate fails',
  );
});
