// The cloud side as data: load cloudformation/greengrass-fleet.yaml with a CloudFormation-aware
// YAML schema (!Ref, !Sub, !GetAtt, ...), evaluate the few intrinsics it uses, and answer the
// questions the builder's `validate` command and the tests ask: which parameters does the
// provisioning template take, does the installer config send exactly those, what may the claim
// certificate do.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { ConfigError } from '../common/errors.ts';

export const FLEET_TEMPLATE_PATH = fileURLToPath(new URL('./greengrass-fleet.yaml', import.meta.url));

// ---- YAML schema ------------------------------------------------------------------------------

const SHORT_FORMS = [
  'Ref',
  'Condition',
  'Sub',
  'GetAtt',
  'Join',
  'Select',
  'Split',
  'If',
  'Equals',
  'Not',
  'And',
  'Or',
  'FindInMap',
  'Base64',
  'Cidr',
  'GetAZs',
  'ImportValue',
  'Transform',
  'Length',
  'ToJsonString',
] as const;

function longForm(name: string): string {
  return name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
}

/** js-yaml schema that reads CloudFormation short-form tags into their long (JSON) form. */
export const CFN_SCHEMA = yaml.DEFAULT_SCHEMA.extend(
  SHORT_FORMS.flatMap((name) =>
    (['scalar', 'sequence', 'mapping'] as const).map(
      (kind) =>
        new yaml.Type(`!${name}`, {
          kind,
          construct: (data: unknown) => {
            if (name === 'GetAtt' && typeof data === 'string') {
              const dot = data.indexOf('.');
              return { 'Fn::GetAtt': [data.slice(0, dot), data.slice(dot + 1)] };
            }
            return { [longForm(name)]: data ?? (kind === 'scalar' ? '' : data) };
          },
        }),
    ),
  ),
);

// ---- template ---------------------------------------------------------------------------------

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}
export interface CfnTemplate {
  AWSTemplateFormatVersion?: string;
  Parameters?: Record<string, { Type: string; Default?: string; AllowedPattern?: string }>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown }>;
}

/** Parse the fleet template (or another path). Throws ConfigError when missing or malformed. */
export function loadFleetTemplate(path: string = FLEET_TEMPLATE_PATH): CfnTemplate {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read CloudFormation template ${path}: ${(err as Error).message}`,
      'cfn-template-missing',
      { cause: err },
    );
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: CFN_SCHEMA, filename: path });
  } catch (err) {
    throw new ConfigError(
      `${path} is not valid CloudFormation YAML: ${(err as Error).message.split('\n')[0]}`,
      'cfn-template-yaml',
      { cause: err },
    );
  }
  if (!doc || typeof doc !== 'object' || !('Resources' in doc) || typeof (doc as CfnTemplate).Resources !== 'object') {
    throw new ConfigError(`${path} has no Resources section`, 'cfn-template-invalid');
  }
  return doc as CfnTemplate;
}

// ---- intrinsic functions (the subset the template uses) -----------------------------------------

export interface EvalContext {
  partition: string;
  region: string;
  accountId: string;
  /** Stack parameter values; a parameter not given takes its Default. */
  parameters: Record<string, string>;
}

export const DEFAULT_CONTEXT: EvalContext = {
  partition: 'aws',
  region: 'eu-west-1',
  accountId: '123456789012',
  parameters: {},
};

/** Property that holds the physical name `!Ref` returns, per resource type. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::IAM::Role': 'RoleName',
  'AWS::IoT::RoleAlias': 'RoleAlias',
  'AWS::IoT::Policy': 'PolicyName',
  'AWS::IoT::ProvisioningTemplate': 'TemplateName',
  'AWS::IoT::ThingGroup': 'ThingGroupName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::Logs::LogGroup': 'LogGroupName',
};

export function evaluate(tpl: CfnTemplate, node: unknown, ctx: EvalContext = DEFAULT_CONTEXT): unknown {
  const ref = (name: string): string => {
    const pseudo: Record<string, string> = {
      'AWS::Partition': ctx.partition,
      'AWS::Region': ctx.region,
      'AWS::AccountId': ctx.accountId,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    if (name in pseudo) return pseudo[name]!;
    const param = tpl.Parameters?.[name];
    if (param) {
      const v = ctx.parameters[name] ?? param.Default;
      if (v === undefined)
        throw new ConfigError(`CloudFormation parameter ${name} has no value and no Default`, 'cfn-parameter-missing');
      return v;
    }
    const res = tpl.Resources[name];
    if (res) {
      const prop = NAME_PROPERTY[res.Type];
      if (!prop || res.Properties?.[prop] === undefined)
        throw new ConfigError(`cannot tell what !Ref ${name} (${res.Type}) returns`, 'cfn-ref-unknown');
      return String(evaluate(tpl, res.Properties[prop], ctx));
    }
    throw new ConfigError(`!Ref ${name}: no such parameter or resource`, 'cfn-ref-unknown');
  };
  const getAtt = (logical: string, attr: string): string => {
    const res = tpl.Resources[logical];
    if (!res) throw new ConfigError(`!GetAtt ${logical}.${attr}: no such resource`, 'cfn-ref-unknown');
    const { partition: p, region: r, accountId: a } = ctx;
    if (res.Type === 'AWS::IAM::Role' && attr === 'Arn') return `arn:${p}:iam::${a}:role/${ref(logical)}`;
    if (res.Type === 'AWS::IoT::RoleAlias' && attr === 'RoleAliasArn')
      return `arn:${p}:iot:${r}:${a}:rolealias/${ref(logical)}`;
    if (res.Type === 'AWS::IoT::Policy' && attr === 'Arn') return `arn:${p}:iot:${r}:${a}:policy/${ref(logical)}`;
    const name = () => ref(logical);
    if (res.Type === 'AWS::Lambda::Function' && attr === 'Arn') return `arn:${p}:lambda:${r}:${a}:function:${name()}`;
    if (res.Type === 'AWS::Logs::LogGroup' && attr === 'Arn') return `arn:${p}:logs:${r}:${a}:log-group:${name()}:*`;
    throw new ConfigError(`!GetAtt ${logical}.${attr} (${res.Type}) is not supported here`, 'cfn-getatt-unknown');
  };
  const sub = (text: string, vars: Record<string, unknown>): string =>
    text.replace(/\$\{(!?)([^}]+)\}/g, (_m, bang: string, name: string) => {
      if (bang) return `\${${name}}`;
      if (name in vars) return String(evaluate(tpl, vars[name], ctx));
      const dot = name.indexOf('.');
      return dot > 0 && !name.startsWith('AWS::') ? getAtt(name.slice(0, dot), name.slice(dot + 1)) : ref(name);
    });

  if (Array.isArray(node)) return node.map((n) => evaluate(tpl, n, ctx));
  if (!node || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const [k] = keys as [string];
    const v = obj[k];
    if (k === 'Ref') return ref(String(v));
    if (k === 'Fn::Sub') {
      if (typeof v === 'string') return sub(v, {});
      const [text, vars] = v as [string, Record<string, unknown>];
      return sub(text, vars ?? {});
    }
    if (k === 'Fn::GetAtt') {
      const [logical, attr] = v as [string, string];
      return getAtt(logical, attr);
    }
    if (k === 'Fn::Join') {
      const [sep, parts] = v as [string, unknown[]];
      return (evaluate(tpl, parts, ctx) as unknown[]).join(sep);
    }
    if (k.startsWith('Fn::') || k === 'Condition')
      throw new ConfigError(`${k} is not supported by this evaluator`, 'cfn-intrinsic-unsupported');
  }
  return Object.fromEntries(keys.map((k) => [k, evaluate(tpl, obj[k], ctx)]));
}

export function resourceOfType(tpl: CfnTemplate, type: string, logicalId?: string): [string, CfnResource] {
  const found = Object.entries(tpl.Resources).filter(
    ([id, r]) => r.Type === type && (logicalId === undefined || id === logicalId),
  );
  if (found.length !== 1) {
    throw new ConfigError(
      `expected exactly one ${type}${logicalId ? ` named ${logicalId}` : ''} in the template, found ${found.length}`,
      'cfn-template-invalid',
    );
  }
  return found[0]!;
}

// ---- IoT policies -------------------------------------------------------------------------------

export interface PolicyStatement {
  effect: string;
  actions: string[];
  resources: string[];
  condition?: unknown;
}

const asList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

/** An AWS::IoT::Policy's statements, intrinsics resolved (NotAction/NotResource reported as such). */
export function iotPolicyStatements(
  tpl: CfnTemplate,
  logicalId: string,
  ctx: EvalContext = DEFAULT_CONTEXT,
): PolicyStatement[] {
  const [, res] = resourceOfType(tpl, 'AWS::IoT::Policy', logicalId);
  const doc = evaluate(tpl, res.Properties?.PolicyDocument, ctx) as { Statement?: unknown };
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  return statements.map((s) => {
    const st = s as Record<string, unknown>;
    for (const k of ['NotAction', 'NotResource', 'NotPrincipal']) {
      if (k in st) throw new ConfigError(`${logicalId} uses ${k}, which this check does not allow`, 'cfn-policy-not');
    }
    return {
      effect: String(st.Effect),
      actions: asList(st.Action),
      resources: asList(st.Resource),
      ...(st.Condition ? { condition: st.Condition } : {}),
    };
  });
}

// The per-core policy and the resolved policy documents live in iot-policies.ts (kept small); one import point.
export { evaluateProvisioning, stackIotPolicies, type PolicyDocument, type StackIotPolicies } from './iot-policies.ts';
// The provisioning template's questions (its parameters, name, body; does a config match it): same.
export {
  fleetConfigStackProblems,
  provisioningTemplateBody,
  provisioningTemplateName,
  provisioningTemplateParameters,
  roleAliasName,
  type ProvisioningTemplateBody,
} from './provisioning-template.ts';
