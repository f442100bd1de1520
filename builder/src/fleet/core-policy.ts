// A core's OWN IoT policy at decommission (docs/facts/iot-policy-lifecycle.md). Each core has one: the
// provisioning template makes it at RegisterThing from the stack's per-core document (IoT names it from a hash
// of the document), `cores create` makes `GreengrassCorePolicy-<thing>` with the same document. Flow:
//   recognise   a policy is the core's own when it has the manual name, or its document equals the stack's
//               per-core document for that thing (parsed JSON; the role alias read from the policy itself);
//   plan        an own policy still attached to a target that is not one of the core's certificates is shared
//               and kept; otherwise one step deletes it, after the certificates are detached and deleted;
//   run         re-check the targets (anything left that is not ours: kept), delete non-default versions, then
//               DeletePolicy, retried while IoT still reports the detach (it can take up to five minutes).
import { isDeepStrictEqual } from 'node:util';
import {
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  GetPolicyCommand,
  ListPolicyVersionsCommand,
  ListTargetsForPolicyCommand,
} from '@aws-sdk/client-iot';
import { stackIotPolicies } from '../../../cloudformation/template.ts';
import { deleteWaitingOutConflict, isAwsErrorNamed, toAwsError, type Clients } from '../aws.ts';
import { corePolicyName } from './iot-steps.ts';
import type { Step } from './thing-removal.ts';

/** Prefix of a policy name recorded in the thing's decommission attribute (beside certificate ids). */
export const RECORDED_POLICY = 'policy:';

/**
 * Seconds between DeletePolicy attempts while IoT still answers DeleteConflictException for a policy that has no
 * targets left: "it can take up to five minutes after a policy is detached before it's ready to be deleted"
 * (DeletePolicy, API reference). About five minutes in all; after that the run stops and a re-run finishes it.
 */
export const POLICY_DELETE_RETRY_SECONDS = [2, 4, 8, 15, 30, 60, 60, 60, 60];

/** A policy's document, or null when the policy does not exist. */
async function policyDocument(c: Clients, name: string): Promise<unknown | null> {
  try {
    const p = await c.iot.send(new GetPolicyCommand({ policyName: name }));
    return JSON.parse(p.policyDocument ?? 'null');
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return null;
    if (err instanceof SyntaxError) return undefined; // not JSON: not the stack's document
    throw toAwsError(`GetPolicy ${name}`, err);
  }
}

/** The role alias a per-core document lets the core assume (the one stack parameter in that document). */
function roleAliasOf(doc: unknown): string | undefined {
  const statements = (doc as { Statement?: { Action?: unknown; Resource?: unknown }[] } | null)?.Statement ?? [];
  for (const s of statements) {
    const actions = ([] as unknown[]).concat(s.Action ?? []);
    if (!actions.includes('iot:AssumeRoleWithCertificate')) continue;
    const res = ([] as unknown[]).concat(s.Resource ?? [])[0];
    if (typeof res === 'string' && res.includes(':rolealias/')) return res.slice(res.indexOf(':rolealias/') + 11);
  }
  return undefined;
}

/** Whether `doc` is the stack's per-core document for `thing`, in the thing's partition, region and account. */
export function isStackCoreDocument(doc: unknown, thing: string, thingArn: string): boolean {
  const [, partition, , region, accountId] = thingArn.split(':');
  const alias = roleAliasOf(doc);
  if (!partition || !region || !accountId || !alias) return false;
  const parameters = { TokenExchangeRoleAliasName: alias };
  return isDeepStrictEqual(doc, stackIotPolicies({ partition, region, accountId, parameters }).core(thing));
}

/** Every target a policy is attached to (all pages), or null when the policy does not exist. */
async function policyTargets(c: Clients, name: string): Promise<string[] | null> {
  const out: string[] = [];
  let marker: string | undefined;
  try {
    do {
      const r = await c.iot.send(new ListTargetsForPolicyCommand({ policyName: name, marker }));
      out.push(...(r.targets ?? []));
      marker = r.nextMarker;
    } while (marker);
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return null;
    throw toAwsError(`ListTargetsForPolicy ${name}`, err);
  }
  return out;
}

/**
 * The core's own policies that exist: among those attached to its certificates (recognised by name or
 * document), those recorded by an earlier cut-off run, and the manual name. Returns them with the
 * targets that are not the core's certificates (a non-empty list means the policy is shared: keep it).
 */
export async function ownPolicies(
  c: Clients,
  thing: string,
  thingArn: string,
  attached: string[],
  recorded: string[],
  ourCerts: string[],
): Promise<{ name: string; others: string[] }[]> {
  const own = new Set(recorded);
  for (const name of new Set([...attached, corePolicyName(thing)])) {
    if (own.has(name)) continue;
    if (name === corePolicyName(thing)) own.add(name);
    else if (isStackCoreDocument(await policyDocument(c, name), thing, thingArn)) own.add(name);
  }
  const out: { name: string; others: string[] }[] = [];
  for (const name of own) {
    const targets = await policyTargets(c, name);
    if (targets !== null) out.push({ name, others: targets.filter((t) => !ourCerts.includes(t)) });
  }
  return out;
}

async function deleteNonDefaultVersions(c: Clients, name: string): Promise<void> {
  let versions;
  try {
    versions = (await c.iot.send(new ListPolicyVersionsCommand({ policyName: name }))).policyVersions ?? [];
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return;
    throw toAwsError(`ListPolicyVersions ${name}`, err);
  }
  for (const v of versions.filter((x) => !x.isDefaultVersion)) {
    try {
      await c.iot.send(new DeletePolicyVersionCommand({ policyName: name, policyVersionId: v.versionId }));
    } catch (err) {
      if (isAwsErrorNamed(err, 'ResourceNotFoundException')) continue;
      throw toAwsError(`DeletePolicyVersion ${name} ${v.versionId}`, err);
    }
  }
}

/** Delete the core's own policy unless something else got it attached meanwhile (then it is shared: kept). */
async function deleteOwnPolicy(c: Clients, name: string, ourCerts: string[]): Promise<void> {
  const op = `DeletePolicy ${name}`;
  await deleteWaitingOutConflict(
    op,
    async () => {
      const targets = await policyTargets(c, name);
      if (targets === null || targets.some((t) => !ourCerts.includes(t))) return;
      await deleteNonDefaultVersions(c, name);
      await c.iot.send(new DeletePolicyCommand({ policyName: name }));
    },
    POLICY_DELETE_RETRY_SECONDS,
    {
      message: `${op}: IoT still reports it attached after about five minutes; re-run later`,
      reason: 'policy-delete-conflict',
    },
  );
}

export function deleteOwnPolicyStep(c: Clients, thing: string, name: string, ourCerts: string[]): Step {
  return { describe: `delete policy ${name} (core ${thing}'s own)`, run: () => deleteOwnPolicy(c, name, ourCerts) };
}
