// The stack's IoT policies as AWS evaluates them: the provisioning template's own intrinsics (what
// IoT does at RegisterThing) and stackIotPolicies(), the one place the claim, per-core and client
// device documents are read from the template (docs/facts/iot-policies.md). Re-exported by template.ts.
import { ConfigError } from '../common/errors.ts';
import {
  evaluate,
  loadFleetTemplate,
  provisioningTemplateBody,
  resourceOfType,
  type CfnTemplate,
  type EvalContext,
  type ProvisioningTemplateBody,
} from './template.ts';

// ---- the provisioning template's own intrinsics (evaluated by IoT at RegisterThing) ---------------

/**
 * Evaluate a provisioning-template node the way IoT does at RegisterThing: `Ref` to a template
 * parameter (the device's value, else the parameter's Default) and `Fn::Join`, the two this stack's
 * template uses (IoT guide, "Provisioning templates"). Anything else is refused, not guessed.
 */
export function evaluateProvisioning(
  body: ProvisioningTemplateBody,
  node: unknown,
  parameters: Record<string, string>,
): unknown {
  if (Array.isArray(node)) return node.map((n) => evaluateProvisioning(body, n, parameters));
  if (!node || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0] === 'Ref') {
    const name = String(obj.Ref);
    const declared = body.Parameters?.[name];
    if (!declared) {
      throw new ConfigError(`provisioning template: Ref ${name} is not a declared parameter`, 'cfn-ref-unknown');
    }
    const v = parameters[name] ?? declared.Default;
    if (v === undefined) {
      throw new ConfigError(`provisioning template: parameter ${name} has no value`, 'cfn-parameter-missing');
    }
    return String(v);
  }
  if (keys.length === 1 && keys[0] === 'Fn::Join') {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    return (evaluateProvisioning(body, parts, parameters) as unknown[]).join(sep);
  }
  if (keys.length === 1 && keys[0]!.startsWith('Fn::')) {
    const what = `provisioning template: ${keys[0]} is not supported by this evaluator`;
    throw new ConfigError(what, 'cfn-intrinsic-unsupported');
  }
  return Object.fromEntries(keys.map((k) => [k, evaluateProvisioning(body, obj[k], parameters)]));
}

// ---- the stack's IoT policies, resolved -----------------------------------------------------------

/** An AWS IoT policy document (IoT guide, "AWS IoT Core policies"): the one shape the builder, the stack tests and
 * the provisioning stand-in's evaluator share. */
export interface PolicyStatement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}

export interface StackIotPolicies {
  /** ClaimPolicy: what the claim certificate baked into the image may do. */
  claim: PolicyDocument;
  /** The provisioning template's per-core policy, with this thing name written in as IoT does at RegisterThing. */
  core(thingName: string): PolicyDocument;
  /** ClientDevicePolicy (still holds the `${iot:Connection.Thing.ThingName}` variable IoT resolves per connection). */
  clientDevice: PolicyDocument;
}

/** A PolicyDocument given as a JSON string (IoT's form) or as an object (CloudFormation's Json type). */
function policyDocument(value: unknown, what: string): PolicyDocument {
  let doc = value;
  if (typeof value === 'string') {
    try {
      doc = JSON.parse(value);
    } catch (err) {
      const message = `${what}: PolicyDocument is not valid JSON: ${(err as Error).message}`;
      throw new ConfigError(message, 'cfn-template-invalid', { cause: err });
    }
  }
  const d = doc as Partial<PolicyDocument> | null;
  if (!d || typeof d !== 'object' || typeof d.Version !== 'string' || !Array.isArray(d.Statement)) {
    throw new ConfigError(`${what}: PolicyDocument has no Version and Statement list`, 'cfn-template-invalid');
  }
  return d as PolicyDocument;
}

/** The provisioning template's one AWS::IoT::Policy resource that carries a PolicyDocument. */
function corePolicyNode(body: ProvisioningTemplateBody): unknown {
  const found = Object.entries(body.Resources).filter(
    ([, r]) => r.Type === 'AWS::IoT::Policy' && r.Properties?.PolicyDocument !== undefined,
  );
  if (found.length !== 1) {
    const what = `expected one AWS::IoT::Policy with a PolicyDocument in the provisioning template, found ${found.length}`;
    throw new ConfigError(what, 'cfn-template-invalid');
  }
  return found[0]![1].Properties!.PolicyDocument;
}

/**
 * The IoT policies the stack deploys, resolved for an account: what AWS evaluates for the claim
 * certificate, for a core named `thingName` (the one source of the per-core policy: the provisioning
 * template creates it at RegisterThing, `cores create` creates the same one for manual cores), and
 * for client devices. `parameters` are stack parameter values (Defaults otherwise).
 */
export function stackIotPolicies(
  where: { region: string; accountId: string; partition?: string; parameters?: Record<string, string> },
  tpl: CfnTemplate = loadFleetTemplate(),
): StackIotPolicies {
  const ctx: EvalContext = {
    partition: where.partition ?? 'aws',
    region: where.region,
    accountId: where.accountId,
    parameters: where.parameters ?? {},
  };
  const stackPolicy = (logicalId: string) => {
    const [, res] = resourceOfType(tpl, 'AWS::IoT::Policy', logicalId);
    return policyDocument(evaluate(tpl, res.Properties?.PolicyDocument, ctx), logicalId);
  };
  const body = provisioningTemplateBody(tpl, ctx);
  const node = corePolicyNode(body);
  return {
    claim: stackPolicy('ClaimPolicy'),
    clientDevice: stackPolicy('ClientDevicePolicy'),
    core: (thingName: string) =>
      policyDocument(evaluateProvisioning(body, node, { ThingName: thingName }), `core policy for ${thingName}`),
  };
}
