// AWS IoT Core policy evaluation for the provisioning STAND-IN: iot:Connect, iot:Publish, iot:Subscribe and
// iot:Receive against the policies attached to the connecting certificate, so a policy mistake fails offline as it
// would on AWS. Rules (docs/facts/provisioning-mqtt.md, "IoT policies"):
// - default deny; an Allow statement grants; any matching Deny wins over every Allow;
// - Action and Resource match with `*` (any run of characters) and `?` (one character); MQTT's `+` and `#` are
//   literal characters in a policy resource;
// - resources: client/<clientId> (Connect), topic/<topic> (Publish, Receive), topicfilter/<filter> (Subscribe);
// - ${iot:ClientId} is the MQTT client ID; ${iot:Connection.Thing.ThingName} resolves only when the client ID names
//   a Thing the certificate is attached to; a resource or condition with a variable that does not resolve matches
//   nothing (access denied);
// - Condition: Bool on iot:Connection.Thing.IsAttached, StringEquals/StringLike on resolvable variables.

export type IotAction = 'iot:Connect' | 'iot:Publish' | 'iot:Subscribe' | 'iot:Receive';

import type { PolicyDocument, PolicyStatement } from '../../cloudformation/iot-policies.ts';

export type { PolicyDocument, PolicyStatement };

/** What the evaluator reads: a policy document as IoT accepts it (one statement may stand alone). */
export interface PolicyInput {
  Version?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

export interface PolicyContext {
  region: string;
  accountId: string;
  clientId: string;
  /** The Thing named by the client ID, if the certificate is attached to it; else undefined. */
  thingName?: string;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** An IAM-style wildcard pattern (`*`, `?`) as a RegExp; everything else is literal. */
function wildcard(pattern: string, caseInsensitive = false): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\#]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, caseInsensitive ? 'i' : '');
}

/** Substitutes policy variables; undefined when one of them does not resolve. */
function substitute(text: string, ctx: PolicyContext): string | undefined {
  let unresolved = false;
  const out = text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    const value = variable(name, ctx);
    if (value === undefined) unresolved = true;
    return value ?? '';
  });
  return unresolved ? undefined : out;
}

function variable(name: string, ctx: PolicyContext): string | undefined {
  switch (name) {
    case 'iot:ClientId':
      return ctx.clientId;
    case 'iot:Connection.Thing.ThingName':
      return ctx.thingName;
    case 'iot:Connection.Thing.IsAttached':
      return ctx.thingName !== undefined ? 'true' : 'false';
    default:
      return undefined; // variables this stand-in does not model never resolve: the statement does not apply
  }
}

function conditionHolds(cond: PolicyStatement['Condition'], ctx: PolicyContext): boolean {
  for (const [op, entries] of Object.entries(cond ?? {})) {
    for (const [key, expected] of Object.entries(entries)) {
      const actual = variable(key, ctx);
      if (actual === undefined) return false;
      const values = list(expected).map((v) => substitute(String(v), ctx));
      const ok =
        op === 'Bool' || op === 'StringEquals'
          ? values.some((v) => v !== undefined && v === actual)
          : op === 'StringLike'
            ? values.some((v) => v !== undefined && wildcard(v).test(actual))
            : false; // an operator this stand-in does not model: the statement does not apply
      if (!ok) return false;
    }
  }
  return true;
}

export function resourceArn(action: IotAction, name: string, ctx: PolicyContext): string {
  const kind = action === 'iot:Connect' ? 'client' : action === 'iot:Subscribe' ? 'topicfilter' : 'topic';
  return `arn:aws:iot:${ctx.region}:${ctx.accountId}:${kind}/${name}`;
}

function statementMatches(st: PolicyStatement, action: IotAction, arn: string, ctx: PolicyContext): boolean {
  if (!list(st.Action).some((a) => wildcard(a, true).test(action))) return false;
  const resources = list(st.Resource).map((r) => substitute(r, ctx));
  if (!resources.some((r) => r !== undefined && wildcard(r).test(arn))) return false;
  return conditionHolds(st.Condition, ctx);
}

/** Whether `policies` allow `action` on `name` (a client ID, topic or topic filter). */
export function isAllowed(policies: PolicyInput[], action: IotAction, name: string, ctx: PolicyContext): boolean {
  const arn = resourceArn(action, name, ctx);
  const statements = policies.flatMap((p) => list(p.Statement));
  if (statements.some((st) => st.Effect === 'Deny' && statementMatches(st, action, arn, ctx))) return false;
  return statements.some((st) => st.Effect === 'Allow' && statementMatches(st, action, arn, ctx));
}
