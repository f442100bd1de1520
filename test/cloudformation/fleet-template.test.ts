// cloudformation/greengrass-fleet.yaml read with the CloudFormation-aware schema: the provisioning
// template takes exactly what the installer config (and so the agent) sends, and the claim
// certificate may do fleet provisioning through this template and nothing else.
import t from 'tap';
import { EXAMPLE_SETTINGS } from '../helpers/installer-settings.ts';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import {
  CFN_SCHEMA,
  DEFAULT_CONTEXT,
  evaluate,
  fleetConfigStackProblems,
  iotPolicyStatements,
  loadFleetTemplate,
  provisioningTemplateBody,
  provisioningTemplateName,
  provisioningTemplateParameters,
  stackIotPolicies,
  type PolicyDocument,
  type PolicyStatement,
} from '../../cloudformation/template.ts';
import {
  fillTemplateParameters,
  fleetConfig,
  parseInstallerConfig,
  renderInstallerConfig,
  type InstallerSettings,
} from '../../common/installer-config.ts';
import { ExitCode } from '../../common/errors.ts';
import { DEFAULT_ROLE_ALIAS } from '../../builder/src/installer-settings.ts';
import { DEFAULT_CLIENT_DEVICE_POLICY } from '../../builder/src/fleet/core-devices.ts';

const tpl = loadFleetTemplate();

const settings: InstallerSettings = { ...EXAMPLE_SETTINGS, templateParameters: { ThingGroupName: 'branch-offices' } };

/** IoT policy evaluation for Allow-only policies: `*` and `?` wildcards in Action and Resource. */
function allows(statements: PolicyStatement[], action: string, resource: string): boolean {
  const glob = (pattern: string, s: string) =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    ).test(s);
  return statements.some(
    (st) =>
      st.effect === 'Allow' && st.actions.some((a) => glob(a, action)) && st.resources.some((r) => glob(r, resource)),
  );
}

const ARN = 'arn:aws:iot:eu-west-1:123456789012';

t.test('the CloudFormation tags parse, and every reference in the template resolves', async (t) => {
  const short = yaml.load('a: !Ref X\nb: !GetAtt R.Arn\nc: !Sub "x-${Y}"\nd: !Join [",", [!Ref X, z]]\n', {
    schema: CFN_SCHEMA,
  });
  t.same(short, {
    a: { Ref: 'X' },
    b: { 'Fn::GetAtt': ['R', 'Arn'] },
    c: { 'Fn::Sub': 'x-${Y}' },
    d: { 'Fn::Join': [',', [{ Ref: 'X' }, 'z']] },
  });
  t.throws(() => yaml.load('a: !Ref X\n'), 'a plain schema rejects the tags (so the CFN schema is needed)');
  // The hook's inline JavaScript is code, not CloudFormation text: left out of this check.
  const { Code: _code, ...hookProps } = tpl.Resources.PreProvisioningHookFunction!.Properties!;
  const hookFn = { ...tpl.Resources.PreProvisioningHookFunction!, Properties: hookProps };
  const resources = { ...tpl.Resources, PreProvisioningHookFunction: hookFn };
  const resolved = JSON.stringify(evaluate(tpl, { r: resources, o: tpl.Outputs }));
  t.notMatch(resolved, /"(Ref|Fn::[A-Za-z]+)"/, 'no unresolved intrinsic left');
  t.notMatch(
    resolved.replace(/\$\{iot:Connection\.Thing\.ThingName\}/g, ''),
    /\$\{/,
    'no unresolved ${...} left (except the IoT policy variable)',
  );
});

t.test(
  "provisioning template parameters = the installer config's templateParameters = what the agent sends",
  async (t) => {
    t.same(provisioningTemplateParameters(tpl), ['ThingName', 'ThingGroupName']);
    const doc = parseInstallerConfig(renderInstallerConfig(settings));
    t.same(
      Object.keys(fleetConfig(doc).templateParameters ?? {}).sort(),
      ['ThingGroupName', 'ThingName'],
      'builder renders ThingName + ThingGroupName',
    );
    const sent = fleetConfig(fillTemplateParameters(doc, { thingName: 'branch-0042' })).templateParameters;
    t.same(
      sent,
      { ThingName: 'branch-0042', ThingGroupName: 'branch-offices' },
      'the agent sends both, ThingName filled',
    );
    t.same(Object.keys(sent ?? {}).sort(), [...provisioningTemplateParameters(tpl)].sort());
    t.same(fleetConfigStackProblems(fleetConfig(doc), tpl), [], 'rendered config matches the stack');
  },
);

t.test('mismatches between config and stack are reported one by one', async (t) => {
  const cfg = fleetConfig(parseInstallerConfig(renderInstallerConfig(settings)));
  t.same(fleetConfigStackProblems({ ...cfg, templateParameters: { ThingName: '{{thingName}}' } }, tpl), [
    'templateParameters is missing ThingGroupName, which the provisioning template requires',
  ]);
  t.same(
    fleetConfigStackProblems({ ...cfg, templateParameters: { ...cfg.templateParameters, SerialNumber: 'x' } }, tpl),
    [
      'templateParameters.SerialNumber is not a parameter of the provisioning template (it takes ThingName, ThingGroupName)',
    ],
  );
  t.same(fleetConfigStackProblems({ ...cfg, provisioningTemplate: 'Other' }, tpl), [
    'provisioningTemplate is "Other" but the stack creates "GreengrassFleetProvisioningTemplate"',
  ]);
  t.same(
    fleetConfigStackProblems({ ...cfg, provisioningTemplate: 'Other', iotRoleAlias: 'A' }, tpl, {
      ProvisioningTemplateName: 'Other',
      TokenExchangeRoleAliasName: 'A',
    }),
    [],
    'stack parameters respected',
  );
});

t.test(
  'provisioning template: Thing ThingName in group ThingGroupName, certificate ACTIVE, its own policy',
  async (t) => {
    const body = provisioningTemplateBody(tpl);
    const byType = (type: string) => Object.values(body.Resources).filter((r) => r.Type === type);
    const [thing] = byType('AWS::IoT::Thing');
    t.same(thing?.Properties?.ThingName, { Ref: 'ThingName' });
    t.same(thing?.Properties?.ThingGroups, [{ Ref: 'ThingGroupName' }]);
    const [cert] = byType('AWS::IoT::Certificate');
    t.same(cert?.Properties, { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'Active' });
    const policies = byType('AWS::IoT::Policy');
    t.equal(policies.length, 1, 'one policy resource');
    // IoT guide, "Provisioning templates": PolicyName or PolicyDocument, not both; without a name IoT names it itself.
    t.notOk(policies[0]?.Properties?.PolicyName, 'no PolicyName: the policy is created from the document, per device');
    t.ok(policies[0]?.Properties?.PolicyDocument, 'PolicyDocument given');
    const document = JSON.stringify(policies[0]?.Properties?.PolicyDocument);
    t.match(document, /"Ref":"ThingName"/, 'the thing name is written into the document');
    t.ok(body.Parameters?.['AWS::IoT::Certificate::Id'], 'certificate id parameter declared');
    const res = tpl.Resources.ProvisioningTemplate!;
    t.equal(evaluate(tpl, res.Properties?.Enabled), true, 'enabled');
    t.equal(
      evaluate(tpl, res.Properties?.ProvisioningRoleArn),
      'arn:aws:iam::123456789012:role/GreengrassFleetProvisioningRole',
    );
    // CreateProvisioningTemplate templateBody: at most 10240 characters (the API model's length constraint).
    t.ok(String(evaluate(tpl, res.Properties?.TemplateBody)).length <= 10240, 'template body within the API limit');
  },
);

/** A policy document's statements in the shape `allows` reads. */
const statementsOf = (doc: PolicyDocument): PolicyStatement[] =>
  doc.Statement.map((st) => ({
    effect: st.Effect,
    actions: ([] as string[]).concat(st.Action),
    resources: ([] as string[]).concat(st.Resource),
    ...(st.Condition ? { condition: st.Condition } : {}),
  }));

const policies = stackIotPolicies({ region: 'eu-west-1', accountId: '123456789012' }, tpl);
const core = statementsOf(policies.core('branch-0042'));

t.test('core policy: works for core devices, where thing policy variables do not', async (t) => {
  // Greengrass guide, "Device authentication and authorization": iot:Connection.Thing.* is not supported for
  // core devices.
  const text = JSON.stringify(policies.core('branch-0042'));
  t.notMatch(text, /\$\{iot:/, 'no core policy statement uses a thing policy variable');
  t.notMatch(JSON.stringify(provisioningTemplateBody(tpl)), /iot:Connection/, 'nor does the provisioning template');
  const other = JSON.stringify(policies.core('plant7-line2'));
  t.match(other, /thing\/plant7-line2"/, 'the thing name is substituted per core');
});

t.test('core policy: every connection the nucleus makes, and only its own', async (t) => {
  const thingArn = `${ARN}:thing/branch-0042`;
  const allowed: [string, string][] = [
    ['iot:Connect', `${ARN}:client/branch-0042`],
    // Past 50 subscriptions the nucleus opens more connections as <thing>#2, #3, ...
    ['iot:Connect', `${ARN}:client/branch-0042#2`],
    ['iot:Connect', `${ARN}:client/branch-0042#3`],
    ['iot:Publish', `${ARN}:topic/$aws/things/branch-0042/greengrassv2/health/json`],
    ['iot:Publish', `${ARN}:topic/$aws/things/branch-0042/greengrass/health/json`],
    ['iot:Publish', `${ARN}:topic/$aws/things/branch-0042/jobs/$next/get`],
    ['iot:Subscribe', `${ARN}:topicfilter/$aws/things/branch-0042/jobs/notify-next`],
    ['iot:Receive', `${ARN}:topic/$aws/things/branch-0042/jobs/notify-next`],
    ['iot:Publish', `${ARN}:topic/$aws/things/branch-0042/shadow/name/config/update`],
    ['iot:Subscribe', `${ARN}:topicfilter/$aws/things/branch-0042/shadow/name/config/update/delta`],
    ['iot:AssumeRoleWithCertificate', `${ARN}:rolealias/GreengrassCoreTokenExchangeRoleAlias`],
    ['greengrass:ResolveComponentCandidates', '*'],
    [
      'greengrass:GetComponentVersionArtifact',
      'arn:aws:greengrass:eu-west-1:aws:components:aws.greengrass.Nucleus:versions:2.16.0',
    ],
    ['greengrass:GetDeploymentConfiguration', '*'],
    ['greengrass:ListThingGroupsForCoreDevice', thingArn],
  ];
  for (const [a, r] of allowed) t.ok(allows(core, a, r), `allowed: ${a} ${r}`);
  const denied: [string, string][] = [
    ['iot:Connect', `${ARN}:client/branch-0043`],
    ['iot:Connect', `${ARN}:client/branch-00421`],
    ['iot:Connect', `${ARN}:client/x-branch-0042`],
    ['iot:Publish', `${ARN}:topic/$aws/things/branch-0043/shadow/update`],
    ['iot:Subscribe', `${ARN}:topicfilter/$aws/things/branch-0043/jobs/notify-next`],
    ['iot:Receive', `${ARN}:topic/$aws/things/branch-0043/jobs/notify-next`],
    ['iot:Subscribe', `${ARN}:topicfilter/#`],
    ['iot:Publish', `${ARN}:topic/$aws/provisioning-templates/GreengrassFleetProvisioningTemplate/provision/json`],
    ['iot:Publish', `${ARN}:topic/$aws/certificates/create/json`],
    ['greengrass:UpdateConnectivityInfo', `${ARN}:thing/branch-0043`],
    ['greengrass:CreateDeployment', '*'],
    ['iot:AssumeRoleWithCertificate', `${ARN}:rolealias/SomeOtherAlias`],
    ['iot:Connect', 'arn:aws:iot:us-east-1:123456789012:client/branch-0042'],
  ];
  for (const [a, r] of denied) t.notOk(allows(core, a, r), `denied: ${a} ${r}`);
});

t.test('core policy: what a core needs to serve client devices (devices create associates them)', async (t) => {
  const thingArn = `${ARN}:thing/branch-0042`;
  for (const [a, r] of [
    ['greengrass:VerifyClientDeviceIdentity', '*'],
    ['greengrass:PutCertificateAuthorities', '*'],
    ['greengrass:VerifyClientDeviceIoTCertificateAssociation', `${ARN}:thing/sensor-7`],
    ['greengrass:GetConnectivityInfo', thingArn],
    ['greengrass:UpdateConnectivityInfo', thingArn],
    ['iot:Publish', `${ARN}:topic/$aws/things/branch-0042-gci/shadow/get`],
    ['iot:Subscribe', `${ARN}:topicfilter/$aws/things/branch-0042-gci/shadow/update/delta`],
    ['iot:Subscribe', `${ARN}:topicfilter/$aws/things/branch-0042-gci/shadow/get/accepted`],
    ['iot:Receive', `${ARN}:topic/$aws/things/branch-0042-gci/shadow/update/delta`],
    ['iot:Receive', `${ARN}:topic/$aws/things/branch-0042-gci/shadow/get/accepted`],
  ] as const)
    t.ok(allows(core, a, r), `allowed: ${a} ${r}`);
  const otherGci = `${ARN}:topic/$aws/things/branch-0043-gci/shadow/get`;
  t.notOk(allows(core, 'iot:Publish', otherGci), "not another core's -gci shadow");
});

t.test('stackIotPolicies: resolved for the account, region, partition and stack parameters given', async (t) => {
  const parameters = { TokenExchangeRoleAliasName: 'PlantAlias', ProvisioningTemplateName: 'Plant7' };
  const cn = stackIotPolicies(
    { region: 'cn-north-1', accountId: '210987654321', partition: 'aws-cn', parameters },
    tpl,
  );
  const CN = 'arn:aws-cn:iot:cn-north-1:210987654321';
  const c = statementsOf(cn.core('line-1'));
  t.ok(allows(c, 'iot:Connect', 'arn:aws-cn:iot:cn-north-1:210987654321:client/line-1'));
  t.ok(allows(c, 'iot:AssumeRoleWithCertificate', 'arn:aws-cn:iot:cn-north-1:210987654321:rolealias/PlantAlias'));
  t.notOk(allows(c, 'iot:Connect', `${ARN}:client/line-1`));
  t.ok(allows(statementsOf(cn.claim), 'iot:Publish', `${CN}:topic/$aws/provisioning-templates/Plant7/provision/json`));
  t.ok(
    JSON.stringify(cn.clientDevice).includes(`${CN}:client/\${iot:Connection.Thing.ThingName}`),
    'client device policy',
  );
  t.same(statementsOf(policies.claim), iotPolicyStatements(tpl, 'ClaimPolicy'), 'claim = the stack ClaimPolicy');
});

t.test("claim policy: exactly connect + certificate-create + this template's provision topics", async (t) => {
  const claim = iotPolicyStatements(tpl, 'ClaimPolicy');
  const T = 'GreengrassFleetProvisioningTemplate';
  const byAction = new Map<string, string[]>();
  for (const st of claim) {
    t.equal(st.effect, 'Allow');
    t.notOk(st.condition, 'no conditions to reason about');
    for (const a of st.actions) byAction.set(a, [...(byAction.get(a) ?? []), ...st.resources].sort());
  }
  t.same(Object.fromEntries(byAction), {
    'iot:Connect': [`${ARN}:client/*`],
    'iot:Publish': [
      `${ARN}:topic/$aws/certificates/create-from-csr/*`,
      `${ARN}:topic/$aws/certificates/create/*`,
      `${ARN}:topic/$aws/provisioning-templates/${T}/provision/*`,
    ],
    'iot:Receive': [
      `${ARN}:topic/$aws/certificates/create-from-csr/*`,
      `${ARN}:topic/$aws/certificates/create/*`,
      `${ARN}:topic/$aws/provisioning-templates/${T}/provision/*`,
    ],
    'iot:Subscribe': [
      `${ARN}:topicfilter/$aws/certificates/create-from-csr/*`,
      `${ARN}:topicfilter/$aws/certificates/create/*`,
      `${ARN}:topicfilter/$aws/provisioning-templates/${T}/provision/*`,
    ],
  });

  // What the FleetProvisioningByClaim plugin does, with or without csrPath: all allowed.
  for (const topic of [
    '$aws/certificates/create/json',
    '$aws/certificates/create-from-csr/json',
    `$aws/provisioning-templates/${T}/provision/json`,
  ]) {
    t.ok(allows(claim, 'iot:Publish', `${ARN}:topic/${topic}`), `publish ${topic}`);
    for (const reply of ['accepted', 'rejected']) {
      t.ok(allows(claim, 'iot:Subscribe', `${ARN}:topicfilter/${topic}/${reply}`), `subscribe ${topic}/${reply}`);
      t.ok(allows(claim, 'iot:Receive', `${ARN}:topic/${topic}/${reply}`), `receive ${topic}/${reply}`);
    }
  }
  t.ok(allows(claim, 'iot:Connect', `${ARN}:client/4f1c0c0e-random-device-id`), 'connect with any client id');
  // And nothing else.
  const denied: [string, string][] = [
    ['iot:Publish', `${ARN}:topic/$aws/provisioning-templates/SomeOtherTemplate/provision/json`],
    ['iot:Publish', `${ARN}:topic/$aws/things/branch-0042/shadow/update`],
    ['iot:Subscribe', `${ARN}:topicfilter/#`],
    ['iot:Receive', `${ARN}:topic/$aws/things/branch-0042/jobs/notify`],
    ['iot:UpdateThingShadow', `${ARN}:thing/branch-0042`],
    ['iot:AssumeRoleWithCertificate', `${ARN}:rolealias/GreengrassCoreTokenExchangeRoleAlias`],
    ['greengrass:ResolveComponentCandidates', '*'],
    ['iot:Connect', 'arn:aws:iot:us-east-1:123456789012:client/x'],
  ];
  for (const [a, r] of denied) t.notOk(allows(claim, a, r), `denied: ${a} ${r}`);

  const other = iotPolicyStatements(tpl, 'ClaimPolicy', {
    ...DEFAULT_CONTEXT,
    parameters: { ProvisioningTemplateName: 'Plant7' },
  });
  t.ok(
    allows(other, 'iot:Publish', `${ARN}:topic/$aws/provisioning-templates/Plant7/provision/json`),
    'follows the template name parameter',
  );
  t.notOk(allows(other, 'iot:Publish', `${ARN}:topic/$aws/provisioning-templates/${T}/provision/json`));
  t.equal(
    provisioningTemplateName(tpl, { ...DEFAULT_CONTEXT, parameters: { ProvisioningTemplateName: 'Plant7' } }),
    'Plant7',
  );
});

t.test(
  "client device policy: the default `devices create --policy`, scoped to the device's own thing name",
  async (t) => {
    const r = tpl.Resources as Record<string, { Properties: Record<string, unknown> }>;
    t.equal(
      evaluate(tpl, r.ClientDevicePolicy!.Properties.PolicyName),
      DEFAULT_CLIENT_DEVICE_POLICY,
      "named as devices create's default policy",
    );
    // For a device whose certificate belongs to thing sensor-7 (the policy variable resolved as IoT does).
    const st = iotPolicyStatements(tpl, 'ClientDevicePolicy').map((x) => ({
      ...x,
      resources: x.resources.map((res) => res.replaceAll('${iot:Connection.Thing.ThingName}', 'sensor-7')),
    }));
    for (const [a, res] of [
      ['greengrass:Discover', `${ARN}:thing/sensor-7`],
      ['iot:Connect', `${ARN}:client/sensor-7`],
      ['iot:Publish', `${ARN}:topic/clients/sensor-7/temperature`],
      ['iot:Subscribe', `${ARN}:topicfilter/clients/sensor-7/commands`],
      ['iot:Receive', `${ARN}:topic/clients/sensor-7/commands`],
    ])
      t.ok(allows(st, a!, res!), `allowed: ${a} ${res}`);
    // Discover is HTTPS: a thing policy variable in its resource would never match (it resolves only on MQTT connections).
    const discover = iotPolicyStatements(tpl, 'ClientDevicePolicy').filter((x) =>
      x.actions.includes('greengrass:Discover'),
    );
    t.notMatch(JSON.stringify(discover), /iot:Connection/, 'no policy variable in the Discover statement');
    for (const [a, res] of [
      ['iot:Connect', `${ARN}:client/sensor-8`],
      ['iot:Publish', `${ARN}:topic/clients/sensor-8/temperature`],
      ['iot:Publish', `${ARN}:topic/$aws/things/core-1/shadow/update`],
      ['iot:AssumeRoleWithCertificate', `${ARN}:rolealias/GreengrassCoreTokenExchangeRoleAlias`],
    ])
      t.notOk(allows(st, a!, res!), `denied: ${a} ${res}`);
  },
);

t.test('roles: token exchange via the role alias, provisioning role with AWSIoTThingsRegistration', async (t) => {
  const r = evaluate(tpl, tpl.Resources) as Record<string, { Type: string; Properties: Record<string, any> }>;
  const trust = (id: string) => r[id]!.Properties.AssumeRolePolicyDocument.Statement;
  t.same(trust('TokenExchangeRole'), [
    { Effect: 'Allow', Principal: { Service: 'credentials.iot.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ]);
  t.same(trust('FleetProvisioningRole'), [
    { Effect: 'Allow', Principal: { Service: 'iot.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ]);
  t.same(r.FleetProvisioningRole!.Properties.ManagedPolicyArns, [
    'arn:aws:iam::aws:policy/service-role/AWSIoTThingsRegistration',
  ]);
  t.equal(r.TokenExchangeRoleAlias!.Properties.RoleArn, 'arn:aws:iam::123456789012:role/GreengrassV2TokenExchangeRole');
  t.equal(
    r.TokenExchangeRoleAlias!.Properties.RoleAlias,
    DEFAULT_ROLE_ALIAS,
    "role alias = the builder's default iotRoleAlias (what `config render` puts in the installer config)",
  );
  const alias = `${ARN}:rolealias/GreengrassCoreTokenExchangeRoleAlias`;
  t.ok(allows(core, 'iot:AssumeRoleWithCertificate', alias), 'cores may use the role alias');
  const provision = `${ARN}:topic/$aws/provisioning-templates/GreengrassFleetProvisioningTemplate/provision/json`;
  t.notOk(allows(core, 'iot:Publish', provision), 'cores cannot provision others');
});

t.test('bad template files: clear ConfigError, exit code 3', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gg-cfn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => loadFleetTemplate(join(dir, 'nope.yaml')), {
    name: 'ConfigError',
    exitCode: ExitCode.CONFIG,
    reason: 'cfn-template-missing',
  });
  writeFileSync(join(dir, 'bad.yaml'), 'Resources: [unclosed\n');
  t.throws(() => loadFleetTemplate(join(dir, 'bad.yaml')), { name: 'ConfigError', reason: 'cfn-template-yaml' });
  writeFileSync(join(dir, 'empty.yaml'), 'Parameters: {}\n');
  t.throws(() => loadFleetTemplate(join(dir, 'empty.yaml')), {
    reason: 'cfn-template-invalid',
    message: /has no Resources/,
  });
  writeFileSync(
    join(dir, 'dangling.yaml'),
    'Resources:\n  P:\n    Type: AWS::IoT::Policy\n    Properties:\n      PolicyName: !Ref Missing\n',
  );
  t.throws(() => evaluate(loadFleetTemplate(join(dir, 'dangling.yaml')), { Ref: 'P' }), {
    reason: 'cfn-ref-unknown',
    message: /Missing: no such parameter or resource/,
  });
});
