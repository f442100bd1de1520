// The IAM policies the runbook hands to a platform engineer (docs/iam/) against the code they are for:
// - operator-policy.json must grant the IAM action of every AWS SDK command the builder sends (found by scanning
//   builder/src for command classes imported from @aws-sdk/client-*), plus the dependent actions AWS's Service
//   Authorization Reference lists for them; and it grants nothing the builder does not need;
// - stack-policy.json must grant what CloudFormation's resource handlers need for every resource type
//   cloudformation/greengrass-fleet.yaml declares, and what `aws cloudformation deploy` itself calls.
// Both: valid JSON, Version 2012-10-17, only Allow statements with unique Sids, within IAM's managed-policy size.
// Sources of every mapping below: docs/facts/iam-permissions.md.
import t, { type Test } from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadFleetTemplate } from '../../cloudformation/template.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/** IAM service prefix of each SDK client package the builder uses. */
const PREFIX: Record<string, string> = {
  '@aws-sdk/client-iot': 'iot',
  '@aws-sdk/client-greengrassv2': 'greengrass',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
};

/**
 * Where the IAM action is not `<prefix>:<API name>` alone. None of the commands the builder sends today has an IAM
 * action named differently from its API; these add the "dependent actions" the Service Authorization Reference
 * lists (AWS IoT Greengrass V2 page): the caller must also hold them.
 */
const JOB_READ = ['iot:DescribeJob', 'iot:DescribeThing', 'iot:DescribeThingGroup', 'iot:GetThingShadow'];
const EXTRA: Record<string, string[]> = {
  'greengrass:CreateDeployment': [
    ...JOB_READ,
    'iot:CancelJob',
    'iot:CreateJob',
    'iot:DeleteThingShadow',
    'iot:UpdateJob',
    'iot:UpdateThingShadow',
  ],
  'greengrass:GetDeployment': JOB_READ,
  'greengrass:ListDeployments': JOB_READ,
  'greengrass:ListEffectiveDeployments': [...JOB_READ, 'iot:DescribeJobExecution'],
  'greengrass:DeleteCoreDevice': ['iot:DescribeJobExecution'],
};

/** IAM refuses a customer managed policy over 6,144 characters, white space not counted (IAM quotas page). */
const MANAGED_POLICY_MAX = 6144;

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** `client-iot:CreateThingCommand` style: every command class imported from an @aws-sdk/client-* package. */
function sdkCommands(files: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const importRe = /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'(@aws-sdk\/client-[a-z0-9-]+)'/g;
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(importRe)) {
      const names = (m[1] ?? '').split(',').map((s) => s.trim().replace(/^type\s+/, ''));
      for (const n of names.filter((x) => /^[A-Z]\w*Command$/.test(x))) {
        const key = `${m[2]}:${n}`;
        found.set(key, [...(found.get(key) ?? []), f.slice(ROOT.length)]);
      }
    }
  }
  return found;
}

/** The IAM actions one SDK command needs (its own, then the dependent ones). */
function actionsFor(key: string): string[] {
  const [pkg, cls] = key.split(':') as [string, string];
  const prefix = PREFIX[pkg];
  if (!prefix) throw new Error(`no IAM prefix known for ${pkg}: add it to PREFIX (and the policy)`);
  const own = `${prefix}:${cls.replace(/Command$/, '')}`;
  return [own, ...(EXTRA[own] ?? [])];
}

function readPolicy(name: string): { raw: string; doc: { Version?: string; Statement?: Statement[] } } {
  const raw = readFileSync(join(ROOT, 'docs/iam', name), 'utf8');
  return { raw, doc: JSON.parse(raw) };
}

function granted(statements: Statement[]): Set<string> {
  return new Set(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])));
}

function checkShape(t: Test, name: string): Statement[] {
  const { raw, doc } = readPolicy(name);
  t.equal(doc.Version, '2012-10-17', `${name}: Version 2012-10-17`);
  const statements = doc.Statement ?? [];
  t.ok(statements.length > 0, `${name}: has statements`);
  t.same(
    statements.filter((s) => s.Effect !== 'Allow').map((s) => s.Sid),
    [],
    `${name}: only Allow statements`,
  );
  const sids = statements.map((s) => s.Sid ?? '');
  t.same(
    sids.filter((s, i) => !/^[A-Za-z0-9]+$/.test(s) || sids.indexOf(s) !== i),
    [],
    `${name}: every statement has a unique alphanumeric Sid`,
  );
  t.same(
    statements.filter((s) => s.Resource === undefined).map((s) => s.Sid),
    [],
    `${name}: every statement names its Resource`,
  );
  const size = raw.replace(/\s/g, '').length;
  t.ok(size <= MANAGED_POLICY_MAX, `${name}: ${size} characters without white space, at most ${MANAGED_POLICY_MAX}`);
  return statements;
}

t.test('operator-policy.json grants every action the builder sends, and only those', (t) => {
  const statements = checkShape(t, 'operator-policy.json');
  const files = sourceFiles(join(ROOT, 'builder/src'));
  const commands = sdkCommands(files);
  // Every command class the builder constructs must have been seen as an SDK import (a missed import form would
  // otherwise hide a command from this test).
  const constructed = new Set(
    files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/new (\w+Command)\(/g)].map((m) => m[1])),
  );
  const scanned = new Set([...commands.keys()].map((k) => k.split(':')[1]));
  t.same(
    [...constructed].filter((c) => !scanned.has(c)),
    [],
    `every constructed command is an SDK import (${scanned.size} found)`,
  );
  const have = granted(statements);
  const needed = new Map<string, string>();
  for (const [key, files] of commands)
    for (const a of actionsFor(key)) needed.set(a, `${key.split(':')[1]} in ${files.join(', ')}`);
  const missing = [...needed].filter(([a]) => !have.has(a)).map(([a, why]) => `${a} (for ${why})`);
  t.same(missing, [], 'no action the builder needs is missing from docs/iam/operator-policy.json');
  const unused = [...have].filter((a) => !needed.has(a));
  t.same(unused, [], 'no action is granted that no builder command needs');
  const runbook = readFileSync(join(ROOT, 'docs/runbook.md'), 'utf8');
  t.same(
    statements.map((s) => s.Sid).filter((sid) => !runbook.includes(` ${sid}`)),
    [],
    "every statement's Sid is in the runbook's per-command table",
  );
  t.end();
});

t.test('the scan itself: an import it must see, and the mapping of a dependent action', (t) => {
  t.same(actionsFor('@aws-sdk/client-iot:CreateKeysAndCertificateCommand'), ['iot:CreateKeysAndCertificate']);
  t.ok(actionsFor('@aws-sdk/client-greengrassv2:CreateDeploymentCommand').includes('iot:CreateJob'));
  t.throws(() => actionsFor('@aws-sdk/client-s3:GetObjectCommand'), /no IAM prefix/);
  t.end();
});

/**
 * What CloudFormation's handler for each resource type needs to create, update and delete it, narrowed to the
 * properties the template sets (the registry schemas' `handlers` permissions; docs/facts/iam-permissions.md).
 */
const HANDLERS: Record<string, string[]> = {
  'AWS::IAM::Role': [
    'iam:CreateRole',
    'iam:GetRole',
    'iam:DeleteRole',
    'iam:PutRolePolicy',
    'iam:GetRolePolicy',
    'iam:DeleteRolePolicy',
    'iam:ListRolePolicies',
    'iam:ListAttachedRolePolicies',
    'iam:AttachRolePolicy',
    'iam:DetachRolePolicy',
    'iam:UpdateAssumeRolePolicy',
  ],
  'AWS::IoT::RoleAlias': [
    'iam:GetRole',
    'iam:PassRole',
    'iot:CreateRoleAlias',
    'iot:DescribeRoleAlias',
    'iot:UpdateRoleAlias',
    'iot:DeleteRoleAlias',
    'iot:TagResource',
    'iot:ListTagsForResource',
  ],
  'AWS::IoT::Policy': [
    'iot:CreatePolicy',
    'iot:GetPolicy',
    'iot:DeletePolicy',
    'iot:ListPolicyVersions',
    'iot:CreatePolicyVersion',
    'iot:DeletePolicyVersion',
    'iot:SetDefaultPolicyVersion',
  ],
  'AWS::IoT::ProvisioningTemplate': [
    'iam:GetRole',
    'iam:PassRole',
    'iot:CreateProvisioningTemplate',
    'iot:DescribeProvisioningTemplate',
    'iot:UpdateProvisioningTemplate',
    'iot:CreateProvisioningTemplateVersion',
    'iot:ListProvisioningTemplateVersions',
    'iot:DeleteProvisioningTemplateVersion',
    'iot:DeleteProvisioningTemplate',
  ],
  'AWS::Lambda::Function': [
    'iam:PassRole',
    'lambda:CreateFunction',
    'lambda:GetFunction',
    'lambda:GetFunctionCodeSigningConfig',
    'lambda:UpdateFunctionCode',
    'lambda:UpdateFunctionConfiguration',
    'lambda:DeleteFunction',
    'lambda:TagResource',
    'lambda:ListTags',
  ],
  'AWS::Lambda::Permission': ['lambda:AddPermission', 'lambda:RemovePermission', 'lambda:GetPolicy'],
  'AWS::Logs::LogGroup': [
    'logs:DescribeLogGroups',
    'logs:CreateLogGroup',
    'logs:PutRetentionPolicy',
    'logs:DeleteLogGroup',
    'logs:TagResource',
  ],
};

/** What `aws cloudformation deploy` calls (awscli's deployer), then `describe-stack-events` and `delete-stack`. */
const DEPLOY = [
  'cloudformation:DescribeStacks',
  'cloudformation:CreateChangeSet',
  'cloudformation:DescribeChangeSet',
  'cloudformation:ExecuteChangeSet',
  'cloudformation:GetTemplateSummary',
  'cloudformation:DescribeStackEvents',
  'cloudformation:DeleteStack',
];

t.test('stack-policy.json grants what deploying and deleting the stack needs', (t) => {
  const statements = checkShape(t, 'stack-policy.json');
  const have = granted(statements);
  const types = [...new Set(Object.values(loadFleetTemplate().Resources).map((r) => r.Type))].sort();
  t.same(
    types.filter((ty) => !HANDLERS[ty]),
    [],
    'every resource type of the template has its handler permissions listed in this test',
  );
  for (const ty of types) {
    const missing = (HANDLERS[ty] ?? []).filter((a) => !have.has(a));
    t.same(missing, [], `${ty}: every handler permission granted`);
  }
  t.same(
    DEPLOY.filter((a) => !have.has(a)),
    [],
    'the CloudFormation calls of deploy, events and delete granted',
  );
  t.end();
});
