// cores delete --deprovision and the core's OWN IoT policy: the real CLI against the AWS wire stand-in. The own
// policy (manual `GreengrassCorePolicy-<thing>`, or a fleet-provisioned core's hash-named one with the stack's
// per-core document) is deleted once nothing else holds it; shared policies stay.
import t from 'tap';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  IoTClient,
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateThingCommand,
} from '@aws-sdk/client-iot';
import { ExitCode } from '../../../common/errors.ts';
import { stackIotPolicies } from '../../../cloudformation/template.ts';
import { cliEnv, faultOnNth, runCli, standin, things, tmp, type AwsStandin } from './fleet-helpers.ts';

let s: AwsStandin;
let iot: IoTClient;
let dir: string;
t.beforeEach(async () => {
  s = await standin(['GreengrassV2IoTThingPolicy', 'GreengrassProvisioningClaimPolicy']);
  const credentials = { accessKeyId: 'a', secretAccessKey: 'b' };
  iot = new IoTClient({ endpoint: s.url, region: 'eu-west-1', credentials });
  dir = tmp('gg-decom-');
});
t.afterEach(() => {
  iot.destroy();
  return s.close();
});

const EMPTY = '{"Version":"2012-10-17","Statement":[]}';
const stack = () => stackIotPolicies({ region: 'eu-west-1', accountId: '123456789012' });
const certOf = (thing: string) => things(s)[thing]!.principals[0]!;

async function createCores(names: string): Promise<void> {
  const args = ['cores', 'create', '--names', names, '--thing-group', 'Fleet', '--output', join(dir, 'cores')];
  const r = await runCli(args, cliEnv(s));
  if (r.code !== 0) throw new Error(r.stderr);
}

/** What RegisterThing leaves for a fleet-provisioned core: thing, certificate, and a policy IoT named by a hash. */
async function fleetCore(thing: string, doc = stack().core(thing)): Promise<string> {
  // Formatted differently from what the builder would write: the comparison is on parsed JSON.
  const text = JSON.stringify(doc, null, 2);
  const name = createHash('sha256').update(text).digest('hex');
  await iot.send(new CreateThingCommand({ thingName: thing }));
  const c = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new CreatePolicyCommand({ policyName: name, policyDocument: text }));
  await iot.send(new AttachPolicyCommand({ policyName: name, target: c.certificateArn }));
  await iot.send(new AttachThingPrincipalCommand({ thingName: thing, principal: c.certificateArn }));
  return name;
}

t.test('cores create + cores delete --deprovision: the dry run names the own policy, --yes deletes it', async (t) => {
  await createCores('core-a');
  t.ok(s.state.policies['GreengrassCorePolicy-core-a'], 'cores create made the own policy');
  const dry = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--json'], cliEnv(s));
  t.equal(dry.code, 0, dry.stderr);
  const step = "delete policy GreengrassCorePolicy-core-a (core core-a's own)";
  t.ok(JSON.parse(dry.stdout).plan[0].steps.includes(step), 'in the plan');
  t.ok(s.state.policies['GreengrassCorePolicy-core-a'], 'dry run deletes nothing');
  const text = await runCli(['cores', 'delete', 'core-a', '--deprovision'], cliEnv(s));
  t.ok(text.stdout.includes(`  - ${step}`), 'the text plan names it too');

  const r = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--yes'], cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  t.notOk(s.state.policies['GreengrassCorePolicy-core-a'], 'own policy deleted');
  t.notOk(things(s)['core-a'], 'thing deleted');
  const left = ['GreengrassProvisioningClaimPolicy', 'GreengrassV2IoTThingPolicy'];
  t.same(Object.keys(s.state.policies).sort(), left, 'stack policies kept');
});

t.test("a policy shared by two cores survives deleting one; the deleted core's own policy does not", async (t) => {
  await createCores('core-a,core-b');
  await iot.send(new CreatePolicyCommand({ policyName: 'SiteShared', policyDocument: EMPTY }));
  for (const core of ['core-a', 'core-b']) {
    await iot.send(new AttachPolicyCommand({ policyName: 'SiteShared', target: certOf(core) }));
  }
  const certB = certOf('core-b');
  s.requests.length = 0;
  const r = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--yes'], cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  t.notOk(s.state.policies['GreengrassCorePolicy-core-a'], "core-a's own policy deleted");
  t.ok(s.state.policies.SiteShared, 'the shared policy stays');
  t.ok(s.state.policies['GreengrassCorePolicy-core-b'], "core-b's own policy stays");
  const b = Object.values(s.state.certificates).find((c) => c.certificateArn === certB)!;
  t.same(b.policies.sort(), ['GreengrassCorePolicy-core-b', 'SiteShared'], 'core-b keeps both attached');
  const deleted = s.calls('DeletePolicy').map((q) => q.path);
  t.same(deleted, ['/policies/GreengrassCorePolicy-core-a'], 'one DeletePolicy, the own one');
});

t.test('the own policy attached to another certificate too is shared: detached, kept, not in the plan', async (t) => {
  await createCores('core-a,core-b');
  await iot.send(new AttachPolicyCommand({ policyName: 'GreengrassCorePolicy-core-a', target: certOf('core-b') }));
  const dry = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--json'], cliEnv(s));
  const steps: string[] = JSON.parse(dry.stdout).plan[0].steps;
  t.notOk(
    steps.some((x) => x.startsWith('delete policy')),
    'no policy deletion planned',
  );
  const r = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--yes'], cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  t.ok(s.state.policies['GreengrassCorePolicy-core-a'], 'kept');
  t.equal(s.calls('DeletePolicy').length, 0);
  // Decommissioning core-b afterwards: now nothing else holds either policy.
  const r2 = await runCli(['cores', 'delete', 'core-b', '--deprovision', '--yes'], cliEnv(s));
  t.equal(r2.code, 0, r2.stderr);
  t.notOk(s.state.policies['GreengrassCorePolicy-core-b'], "core-b's own deleted");
});

t.test(
  'fleet-provisioned core: its hash-named policy (stack document, any formatting, two versions) is deleted; ' +
    "the claim policy and another core's document are not",
  async (t) => {
    const own = await fleetCore('branch-017');
    const again = JSON.stringify(stack().core('branch-017'));
    await iot.send(new CreatePolicyVersionCommand({ policyName: own, policyDocument: again, setAsDefault: true }));
    // Attached to this core's certificate, but not its own: the claim policy and branch-018's per-core document.
    const other = JSON.stringify(stack().core('branch-018'));
    await iot.send(new CreatePolicyCommand({ policyName: 'NotMine', policyDocument: other }));
    for (const p of ['NotMine', 'GreengrassProvisioningClaimPolicy']) {
      await iot.send(new AttachPolicyCommand({ policyName: p, target: certOf('branch-017') }));
    }
    const dry = await runCli(['cores', 'delete', 'branch-017', '--deprovision', '--json'], cliEnv(s));
    const steps: string[] = JSON.parse(dry.stdout).plan[0].steps;
    t.same(
      steps.filter((x) => x.startsWith('delete policy')),
      [`delete policy ${own} (core branch-017's own)`],
    );
    s.requests.length = 0;
    const r = await runCli(['cores', 'delete', 'branch-017', '--deprovision', '--yes'], cliEnv(s));
    t.equal(r.code, 0, r.stderr);
    t.notOk(s.state.policies[own], 'own policy deleted');
    const versions = s.calls('DeletePolicyVersion').map((q) => q.path);
    t.same(versions, [`/policies/${own}/version/1`], 'the non-default version first');
    t.ok(s.state.policies.NotMine, "another core's document is kept");
    t.ok(s.state.policies.GreengrassProvisioningClaimPolicy, 'claim policy kept');
    t.notOk(things(s)['branch-017']);
  },
);

t.test('DeletePolicy failing (500 x3): exit 4, the thing remembers the policy, the re-run deletes it', async (t) => {
  const own = await fleetCore('branch-020');
  faultOnNth(s, 'DeletePolicy', 1, { kind: 'error', status: 500 }, 3);
  const r = await runCli(['cores', 'delete', 'branch-020', '--deprovision', '--yes'], cliEnv(s));
  t.equal(r.code, ExitCode.AWS);
  t.match(r.stderr, new RegExp(`DeletePolicy ${own} failed: InternalFailureException`));
  t.ok(s.state.policies[own], 'policy still there');
  t.ok(things(s)['branch-020'], 'thing still there');
  t.same(Object.keys(s.state.certificates), [], 'certificate deleted: no attachment links the policy to the core');
  const r2 = await runCli(['cores', 'delete', 'branch-020', '--deprovision', '--yes'], cliEnv(s));
  t.equal(r2.code, 0, r2.stderr);
  t.notOk(s.state.policies[own], 'deleted by the re-run');
  t.notOk(things(s)['branch-020']);
});

t.test('DeletePolicy answered 409 while the detach propagates (no targets left) is retried, then passes', async (t) => {
  await createCores('core-a');
  faultOnNth(s, 'DeletePolicy', 1, { kind: 'error', status: 409, code: 'DeleteConflictException' });
  const r = await runCli(['cores', 'delete', 'core-a', '--deprovision', '--yes'], cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  t.same(
    s.calls('DeletePolicy').map((q) => q.status),
    [409, 200],
    'one conflict, then deleted',
  );
  t.notOk(s.state.policies['GreengrassCorePolicy-core-a']);
});
