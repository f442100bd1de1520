// The stack's pre-provisioning hook: the inline code in the template is the bundle of
// cloudformation/pre-provisioning-hook/handler.ts, the stack wires it as AWS documents, and the very
// code the Lambda runs (the template's ZipFile, loaded as the CommonJS index.js Lambda makes of it)
// decides with its real @aws-sdk clients pointed at the AWS stand-in.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { cacheRoot } from '../../offline/base-image.ts';
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  IoTClient,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { evaluate, loadFleetTemplate } from '../../cloudformation/template.ts';
import { bundleHook } from '../../cloudformation/pre-provisioning-hook/build.ts';
import type { HookEvent, HookOptions } from '../../cloudformation/pre-provisioning-hook/handler.ts';
import { loadStackHook, stackHookCode } from '../../harness/stack-hook.ts';
import { createCa } from '../../standins/pki.ts';
import { startAwsStandin, type AwsStandin } from '../../standins/aws/server.ts';
import { reportCoreDevice } from '../../standins/aws/greengrassv2.ts';

const tpl = loadFleetTemplate();
const R = evaluate(tpl, tpl.Resources) as Record<
  string,
  { Type: string; DependsOn?: unknown; Properties: Record<string, any> }
>;
const zipFile = stackHookCode();

t.test('the inline code is the bundle of handler.ts (regenerate with build.ts)', async (t) => {
  t.equal(
    zipFile,
    await bundleHook(),
    'run `npx tsx cloudformation/pre-provisioning-hook/build.ts` after changing the hook',
  );
  t.notMatch(zipFile, /require\("\.\.?\//, 'no relative require left: one self-contained file');
  t.match(zipFile, /exports|module\.exports/, 'CommonJS, as Lambda loads inline Node.js code');
});

t.test('stack wiring: function, least-privilege role, invoke permission for IoT only, the template hook', async (t) => {
  const fn = R.PreProvisioningHookFunction!.Properties;
  t.match(fn.Runtime, /^nodejs(2[0-9]|[3-9][0-9])\.x$/, 'a Node.js runtime with @aws-sdk v3 (20 or newer)');
  t.equal(fn.Handler, 'index.handler');
  t.ok(fn.Timeout <= 5, 'IoT waits at most 5 s for the hook');
  t.equal(fn.Role, 'arn:aws:iam::123456789012:role/GreengrassFleetProvisioningTemplate-PreProvisioningHook');
  t.equal(fn.Environment.Variables.ALLOWED_THING_NAME_PATTERN, '', 'the optional pattern, empty by default');
  const fnArn =
    'arn:aws:lambda:eu-west-1:123456789012:function:GreengrassFleetProvisioningTemplate-PreProvisioningHook';
  t.same(R.ProvisioningTemplate!.Properties.PreProvisioningHook, { PayloadVersion: '2020-04-01', TargetArn: fnArn });
  t.equal(
    R.ProvisioningTemplate!.DependsOn,
    'PreProvisioningHookPermission',
    'the permission exists before IoT is told to call the hook',
  );
  t.same(R.PreProvisioningHookPermission!.Properties, {
    FunctionName: fnArn,
    Action: 'lambda:InvokeFunction',
    Principal: 'iot.amazonaws.com',
    SourceAccount: '123456789012',
    SourceArn: 'arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/GreengrassFleetProvisioningTemplate',
  });
  const role = R.PreProvisioningHookRole!.Properties;
  t.same(role.AssumeRolePolicyDocument.Statement, [
    { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ]);
  const granted = role.Policies.flatMap((p: any) => p.PolicyDocument.Statement).map((s: any) => [
    s.Effect,
    [].concat(s.Action).join(','),
    s.Resource,
  ]);
  t.same(
    granted,
    [
      ['Allow', 'iot:ListThingPrincipals', 'arn:aws:iot:eu-west-1:123456789012:thing/*'],
      ['Allow', 'iot:DescribeCertificate', 'arn:aws:iot:eu-west-1:123456789012:cert/*'],
      ['Allow', 'greengrass:GetCoreDevice', 'arn:aws:greengrass:eu-west-1:123456789012:coreDevices:*'],
      [
        'Allow',
        'logs:CreateLogStream,logs:PutLogEvents',
        'arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/GreengrassFleetProvisioningTemplate-PreProvisioningHook:*',
      ],
    ],
    'read-only lookups and its own log group, nothing else',
  );
});

const ca = createCa();
const credentials = { accessKeyId: 'AKIDHOOK', secretAccessKey: 'hook' };
let s: AwsStandin;
let iot: IoTClient;
t.beforeEach(async () => {
  s = await startAwsStandin({ ca, endpoints: { region: 'eu-west-1' } });
  iot = new IoTClient({ endpoint: s.url, region: 'eu-west-1', credentials });
});
t.afterEach(async () => {
  iot.destroy();
  await s.close();
});

const hookModule = loadStackHook();
t.test('loading the inline hook leaves no file behind', async (t) => {
  const mine = () => readdirSync(cacheRoot()).filter((n) => n.startsWith(`stack-hook-${process.pid}-`));
  loadStackHook();
  t.same(mine(), [], 'the module written for loading is removed once loaded');
});
function hook(o: Omit<HookOptions, 'clientConfig'> = {}, lines: Record<string, unknown>[] = []) {
  return hookModule.createHandler({
    clientConfig: { endpoint: s.url, region: 'eu-west-1', credentials, maxAttempts: 1 },
    log: (l) => lines.push(l),
    ...o,
  });
}
const event = (thingName: string, certificateId = 'c'.repeat(64)): HookEvent => ({
  claimCertificateId: 'a'.repeat(64),
  certificateId,
  certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n',
  templateArn: 'arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/GreengrassFleetProvisioningTemplate',
  clientId: 'b1f0c2d4-0000-4000-8000-000000000001',
  parameters: { ThingName: thingName, ThingGroupName: 'branch-offices' },
});

/** A Thing with an ACTIVE certificate attached; `reported` = its nucleus reported to Greengrass (a working core). */
async function seedCore(name: string, o: { reported: boolean; active?: boolean }): Promise<string> {
  await iot.send(new CreateThingCommand({ thingName: name }));
  const cert = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachThingPrincipalCommand({ thingName: name, principal: cert.certificateArn! }));
  if (o.active === false)
    await iot.send(new UpdateCertificateCommand({ certificateId: cert.certificateId!, newStatus: 'INACTIVE' }));
  if (o.reported) reportCoreDevice(s.state, { thingName: name });
  return cert.certificateId!;
}

t.test('a fresh name is allowed', async (t) => {
  t.same(await hook()(event('branch-0042')), { allowProvisioning: true });
});

t.test('a name held by a working core is refused; the log says why and carries no certificate', async (t) => {
  await seedCore('branch-0042', { reported: true });
  const lines: Record<string, unknown>[] = [];
  t.same(await hook({}, lines)(event('branch-0042')), { allowProvisioning: false });
  t.match(lines.at(-1), { thingName: 'branch-0042', allowProvisioning: false, why: /held by a working core/ });
  t.notMatch(JSON.stringify(lines), /BEGIN CERTIFICATE/, 'no certificate PEM in the log');
});

t.test('a device retrying its own registration (its certificate already attached) is allowed', async (t) => {
  const id = await seedCore('branch-0042', { reported: true });
  t.same(await hook()(event('branch-0042', id)), { allowProvisioning: true });
});

t.test(
  'a Thing whose certificate never showed up as a core is allowed (lost reply, crash before the first connection)',
  async (t) => {
    await seedCore('branch-0042', { reported: false });
    t.same(await hook()(event('branch-0042')), { allowProvisioning: true });
  },
);

t.test('a Thing whose only certificate is INACTIVE is allowed even if the core once reported', async (t) => {
  await seedCore('branch-0042', { reported: true, active: false });
  t.same(await hook()(event('branch-0042')), { allowProvisioning: true });
});

t.test('names the ThingName rules refuse are refused before any AWS call', async (t) => {
  for (const bad of ['branch-0042.corp.example', 'ubuntu', 'localhost', 'a:b', 'x'.repeat(129), '', 'spa ce']) {
    const lines: Record<string, unknown>[] = [];
    t.same(
      await hook({}, lines)(event(bad)),
      { allowProvisioning: false },
      `refused: ${JSON.stringify(bad.slice(0, 20))}`,
    );
    t.match(lines.at(-1)?.why, /ThingName|deny list/);
  }
  const noName = { ...event('x'), parameters: { ThingGroupName: 'g' } };
  t.same(await hook()(noName), { allowProvisioning: false }, 'no ThingName parameter');
  t.equal(s.requests.length, 0, 'no AWS call for a refused name');
});

t.test('AllowedThingNamePattern: a name outside it is refused, inside it is allowed', async (t) => {
  const h = hook({ allowedPattern: 'branch-[0-9]{4}' });
  t.same(await h(event('branch-0042')), { allowProvisioning: true });
  t.same(await h(event('lab-0042')), { allowProvisioning: false });
  t.same(await h(event('branch-00421')), { allowProvisioning: false }, 'the whole name must match');
});

t.test('an AWS error, a broken pattern or no answer in time: deny', async (t) => {
  s.failWith('ListThingPrincipals', 500, 5);
  const lines: Record<string, unknown>[] = [];
  t.same(await hook({}, lines)(event('branch-0042')), { allowProvisioning: false });
  t.match(lines.at(-1)?.why, /^error: /);
  s.clearFaults();
  await seedCore('branch-0043', { reported: false });
  s.failWith('DescribeCertificate', 403, 5, 'AccessDeniedException');
  t.same(await hook()(event('branch-0043')), { allowProvisioning: false }, 'no permission to look: deny');
  s.clearFaults();
  t.same(await hook({ allowedPattern: '(' })(event('branch-0042')), { allowProvisioning: false }, 'invalid pattern');
  s.setLatency('ListThingPrincipals', 600);
  t.same(await hook({ deadlineMs: 200 })(event('branch-0042')), { allowProvisioning: false }, 'deadline passed');
});

t.test('the Lambda entry point: clients and pattern from the environment', async (t) => {
  await seedCore('branch-0042', { reported: true });
  const saved = { ...process.env };
  t.teardown(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: s.url,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDHOOK',
    AWS_SECRET_ACCESS_KEY: 'hook',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    ALLOWED_THING_NAME_PATTERN: 'branch-[0-9]+',
  });
  t.same(await hookModule.handler(event('branch-0042')), { allowProvisioning: false }, 'working core: refused');
  t.same(await hookModule.handler(event('branch-0099')), { allowProvisioning: true });
  t.same(
    await hookModule.handler(event('lab-1')),
    { allowProvisioning: false },
    'pattern from ALLOWED_THING_NAME_PATTERN',
  );
  t.ok(s.calls('GetCoreDevice').length >= 1, 'it asked Greengrass');
});
