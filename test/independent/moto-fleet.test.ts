// Independent check (issue 17, check 2): `cores create/delete` and `devices create/delete` against moto and against
// the AWS wire stand-in must end in the same IoT state and exit the same way.
// Greengrass v2 (moto has none): `cores create` never calls it. `cores delete` always calls GetCoreDevice, and
// `devices create/delete` always call GetCoreDevice and ListClientDevicesAssociatedWithCoreDevice (and
// BatchAssociate/BatchDisassociateClientDevice...): beside moto those go to a Greengrass v2 stand-in
// (AWS_ENDPOINT_URL_GREENGRASSV2), so what is compared here is their IoT side only.
import t from 'tap';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateThingCommand,
  ListThingPrincipalsCommand,
} from '@aws-sdk/client-iot';
import { stackIotPolicies } from '../../cloudformation/template.ts';
import { POLICIES, REGION, startMoto, type Backend, type MotoServer } from './backends.ts';
import { at, bothBackends, type Step } from './compare.ts';

let moto: MotoServer;
t.before(async () => {
  moto = await startMoto();
});
t.teardown(() => moto?.stop());

const CERT_ARN = 'arn:aws:iot:eu-west-1:123456789012:cert/';
const GROUP = ['--thing-group', 'SiteCores'];
const NAMES = ['--names', 'site-core-a,site-core-b', ...GROUP];
const CORE_A = ['--core', 'site-core-a'];
const DEPROVISION = ['--deprovision', '--yes'];
const DEVICES = ['--names', 'dev-1,dev-2'];
/** What IoT names a policy it creates from a provisioning template's PolicyDocument: a hash (64 hex here). */
const FLEET_POLICY = 'ab12'.repeat(16);

t.test('cores create, re-run, resume a cut-off core; devices create/delete; cores delete --deprovision', async (t) => {
  const steps: Step[] = [
    { label: 'cores create', cli: (b) => ['cores', 'create', ...NAMES, '-o', join(b.dir, 'cores'), '--json'] },
    { checkpoint: 'cores created' },
    { label: 'cores create again', cli: (b) => ['cores', 'create', ...NAMES, '-o', join(b.dir, 'cores')] },
    {
      label: 'cut site-core-b off after its key and certificate were written',
      act: (b) => {
        for (const f of ['config.yaml', 'certs/certificate.json']) rmSync(join(b.dir, 'cores', 'site-core-b', f));
      },
    },
    // Resume finds the certificate by the id IoT gives it (SHA-256 of the DER; moto with iot.use_valid_cert) and
    // calls CreateThing again on the existing thing (AWS: same configuration succeeds; moto: replaces it silently).
    { label: 'cores create (resume)', cli: (b) => ['cores', 'create', ...NAMES, '-o', join(b.dir, 'cores')] },
    { checkpoint: 'resumed' },
    { label: 'site-core-a connects to Greengrass', act: (b) => b.coreConnected('site-core-a') },
    { label: 'the Greengrass v2 side knows the device things', act: (b) => b.mirrorThings(['dev-1', 'dev-2']) },
    { label: 'devices create', cli: (b) => ['devices', 'create', ...CORE_A, ...DEVICES, '-o', join(b.dir, 'devices')] },
    { checkpoint: 'devices created' },
    { label: 'devices delete dev-1', cli: ['devices', 'delete', ...CORE_A, '--names', 'dev-1', ...DEPROVISION] },
    { checkpoint: 'device deleted' },
    { label: 'cores delete site-core-b (never connected)', cli: ['cores', 'delete', 'site-core-b', ...DEPROVISION] },
    { label: 'cores delete site-core-a', cli: ['cores', 'delete', 'site-core-a', ...DEPROVISION] },
    { checkpoint: 'cores deleted' },
    { label: 'cores delete again', cli: ['cores', 'delete', 'site-core-a', 'site-core-b', ...DEPROVISION] },
    { checkpoint: 'deleted again' },
  ];
  const { standin, moto: m } = await bothBackends(t, moto, steps);
  for (const run of [standin, m]) {
    t.ok(
      run.results.every((r) => r.code === undefined || r.code === 0),
      `${run.backend}: every command exits 0`,
    );
    const created = at(run, 'cores created');
    t.same(Object.keys(created.things).sort(), ['site-core-a', 'site-core-b'], `${run.backend}: two core things`);
    t.same(created.thingGroups.SiteCores?.members, ['site-core-a', 'site-core-b'], `${run.backend}: both in the group`);
    for (const core of ['site-core-a', 'site-core-b']) {
      const cert = `<cert-of-thing:${core}>`;
      t.same(created.things[core]?.principals, [`${CERT_ARN}${cert}`], `${run.backend}: ${core} has one certificate`);
      t.same(created.certificates[cert], { status: 'ACTIVE', policies: [`GreengrassCorePolicy-${core}`] });
    }
    const kept = `${run.backend}: the resumed core kept its certificate, no second one`;
    t.same(at(run, 'resumed').certificates, created.certificates, kept);
    const dev = at(run, 'devices created');
    t.same(dev.certificates['<cert-of-thing:dev-2>'], { status: 'ACTIVE', policies: ['GreengrassClientDevicePolicy'] });
    t.notOk(at(run, 'device deleted').things['dev-1'], `${run.backend}: dev-1 deprovisioned`);
    const gone = at(run, 'cores deleted');
    t.same(Object.keys(gone.things), ['dev-2'], `${run.backend}: only the client device dev-2 is left`);
    t.same(Object.keys(gone.certificates), ['<cert-of-thing:dev-2>'], `${run.backend}: core certificates deleted`);
    t.same(gone.thingGroups.SiteCores?.members, [], `${run.backend}: the group is empty`);
    t.same(
      gone.policies,
      [...POLICIES].sort(),
      `${run.backend}: the cores' own policies are deleted, the stack's stay`,
    );
    t.same(at(run, 'deleted again'), gone, `${run.backend}: a second delete changes nothing`);
  }
});

t.test("cores create refuses a name that is another machine's identity (a certificate it does not hold)", async (t) => {
  const steps: Step[] = [
    {
      label: 'another machine registered as site-core-x',
      act: async (b) => {
        await b.iot.send(new CreateThingCommand({ thingName: 'site-core-x' }));
        const c = await b.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
        await b.iot.send(new AttachThingPrincipalCommand({ thingName: 'site-core-x', principal: c.certificateArn }));
      },
    },
    { label: 'create site-core-x', cli: (b) => ['cores', 'create', '--names', 'site-core-x', ...GROUP, '-o', b.dir] },
    { checkpoint: 'refused' },
  ];
  const { standin } = await bothBackends(t, moto, steps);
  t.equal(standin.results[0]?.code, 3, 'refused as a configuration error (3)');
  const snap = at(standin, 'refused');
  const other = [`${CERT_ARN}<cert-of-thing:site-core-x>`];
  t.same(snap.things['site-core-x']?.principals, other, 'the other machine keeps its one certificate');
  t.same(snap.thingGroups.SiteCores?.members ?? [], [], 'not added to the group');
});

t.test(
  "cores delete --deprovision deletes a core's own policy (manual, or hash-named with a second version) and keeps a shared one",
  async (t) => {
    const certOf = async (b: Backend, thing: string) =>
      (await b.iot.send(new ListThingPrincipalsCommand({ thingName: thing }))).principals![0]!;
    const fleetDoc = JSON.stringify(
      stackIotPolicies({ region: REGION, accountId: '123456789012' }).core('fleet-core-1'),
      null,
      1,
    );
    const steps: Step[] = [
      { label: 'cores create', cli: (b) => ['cores', 'create', ...NAMES, '-o', join(b.dir, 'cores')] },
      {
        label: 'a policy shared by both cores; a fleet-provisioned core with a hash-named policy in two versions',
        act: async (b) => {
          await b.iot.send(
            new CreatePolicyCommand({
              policyName: 'SiteShared',
              policyDocument: '{"Version":"2012-10-17","Statement":[]}',
            }),
          );
          for (const core of ['site-core-a', 'site-core-b'])
            await b.iot.send(new AttachPolicyCommand({ policyName: 'SiteShared', target: await certOf(b, core) }));
          await b.iot.send(new CreateThingCommand({ thingName: 'fleet-core-1' }));
          const c = await b.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
          await b.iot.send(new CreatePolicyCommand({ policyName: FLEET_POLICY, policyDocument: fleetDoc }));
          await b.iot.send(
            new CreatePolicyVersionCommand({ policyName: FLEET_POLICY, policyDocument: fleetDoc, setAsDefault: true }),
          );
          await b.iot.send(new AttachPolicyCommand({ policyName: FLEET_POLICY, target: c.certificateArn }));
          await b.iot.send(new AttachThingPrincipalCommand({ thingName: 'fleet-core-1', principal: c.certificateArn }));
        },
      },
      { checkpoint: 'set up' },
      {
        label: 'cores delete site-core-a fleet-core-1 --deprovision',
        cli: ['cores', 'delete', 'site-core-a', 'fleet-core-1', '--deprovision', '--yes'],
      },
      { checkpoint: 'deleted' },
    ];
    const { standin, moto: m } = await bothBackends(t, moto, steps);
    for (const run of [standin, m]) {
      t.ok(
        run.results.every((r) => r.code === undefined || r.code === 0),
        `${run.backend}: every command exits 0`,
      );
      const own = ['GreengrassCorePolicy-site-core-a', 'GreengrassCorePolicy-site-core-b', FLEET_POLICY, 'SiteShared'];
      t.same(at(run, 'set up').policies, [...POLICIES, ...own].sort(), `${run.backend}: every policy before`);
      t.same(
        at(run, 'deleted').policies,
        [...POLICIES, 'GreengrassCorePolicy-site-core-b', 'SiteShared'].sort(),
        `${run.backend}: the own policies gone, shared and core-b's kept`,
      );
      t.same(at(run, 'deleted').certificates['<cert-of-thing:site-core-b>']?.policies, [
        'GreengrassCorePolicy-site-core-b',
        'SiteShared',
      ]);
    }
  },
);
