// The stack's fleet provisioning template: its body, parameters and name as CloudFormation evaluates them, the
// token-exchange role alias, and whether an installer config sends what the template takes. Re-exported by
// template.ts.
import { ConfigError } from '../common/errors.ts';
import type { FleetProvisioningConfig } from '../common/installer-config.ts';
import {
  DEFAULT_CONTEXT,
  evaluate,
  loadFleetTemplate,
  resourceOfType,
  type CfnTemplate,
  type EvalContext,
} from './template.ts';

export interface ProvisioningTemplateBody {
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; OverrideSettings?: Record<string, string> }
  >;
}

/** The AWS::IoT::ProvisioningTemplate's TemplateBody, intrinsics resolved and JSON parsed. */
export function provisioningTemplateBody(
  tpl: CfnTemplate = loadFleetTemplate(),
  ctx: EvalContext = DEFAULT_CONTEXT,
): ProvisioningTemplateBody {
  const [id, res] = resourceOfType(tpl, 'AWS::IoT::ProvisioningTemplate');
  const body = evaluate(tpl, res.Properties?.TemplateBody, ctx);
  try {
    return (typeof body === 'string' ? JSON.parse(body) : body) as ProvisioningTemplateBody;
  } catch (err) {
    throw new ConfigError(`${id}.TemplateBody is not valid JSON: ${(err as Error).message}`, 'cfn-template-invalid', {
      cause: err,
    });
  }
}

/** Parameters the device must send to RegisterThing (the AWS::IoT::* ones AWS fills itself are left out). */
export function provisioningTemplateParameters(tpl: CfnTemplate = loadFleetTemplate()): string[] {
  return Object.keys(provisioningTemplateBody(tpl).Parameters ?? {}).filter((p) => !p.startsWith('AWS::'));
}

/** The stack's provisioning template name (TemplateName), for comparing with the config's provisioningTemplate. */
export function provisioningTemplateName(
  tpl: CfnTemplate = loadFleetTemplate(),
  ctx: EvalContext = DEFAULT_CONTEXT,
): string {
  const [, res] = resourceOfType(tpl, 'AWS::IoT::ProvisioningTemplate');
  return String(evaluate(tpl, res.Properties?.TemplateName, ctx));
}

export function roleAliasName(tpl: CfnTemplate = loadFleetTemplate(), ctx: EvalContext = DEFAULT_CONTEXT): string {
  const [, res] = resourceOfType(tpl, 'AWS::IoT::RoleAlias');
  return String(evaluate(tpl, res.Properties?.RoleAlias, ctx));
}

/**
 * Problems (empty = none) between an installer config's fleet-provisioning block and the stack:
 * templateParameters must be exactly the provisioning template's parameters; provisioningTemplate
 * and iotRoleAlias must name the stack's template and role alias (with these stack parameters).
 */
export function fleetConfigStackProblems(
  cfg: Pick<FleetProvisioningConfig, 'templateParameters' | 'provisioningTemplate' | 'iotRoleAlias'>,
  tpl: CfnTemplate = loadFleetTemplate(),
  stackParameters: Record<string, string> = {},
): string[] {
  const ctx = { ...DEFAULT_CONTEXT, parameters: stackParameters };
  const problems: string[] = [];
  const wanted = provisioningTemplateParameters(tpl);
  const sent = Object.keys(cfg.templateParameters ?? {});
  for (const p of wanted)
    if (!sent.includes(p))
      problems.push(`templateParameters is missing ${p}, which the provisioning template requires`);
  for (const p of sent)
    if (!wanted.includes(p))
      problems.push(
        `templateParameters.${p} is not a parameter of the provisioning template (it takes ${wanted.join(', ')})`,
      );
  const name = provisioningTemplateName(tpl, ctx);
  if (cfg.provisioningTemplate !== name)
    problems.push(
      `provisioningTemplate is ${JSON.stringify(cfg.provisioningTemplate)} but the stack creates ${JSON.stringify(name)}`,
    );
  const alias = roleAliasName(tpl, ctx);
  if (cfg.iotRoleAlias !== alias)
    problems.push(`iotRoleAlias is ${JSON.stringify(cfg.iotRoleAlias)} but the stack creates ${JSON.stringify(alias)}`);
  return problems;
}
