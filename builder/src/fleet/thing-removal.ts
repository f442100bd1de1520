// Taking a thing apart (`cores delete --deprovision`, `devices delete --deprovision`): the steps, in the order
// IoT accepts, each tolerating "already gone" so a re-run after a failure converges.
import {
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  ListThingGroupsForThingCommand,
  RemoveThingFromThingGroupCommand,
  UpdateCertificateCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { call, deleteWaitingOutConflict, isAwsErrorNamed, toAwsError, type Clients } from '../aws.ts';
import { deleteOwnPolicyStep, ownPolicies, RECORDED_POLICY } from './core-policy.ts';
import { attachedPolicies, certIdFromArn, thingPrincipals } from './iot-steps.ts';

export async function thingGroups(c: Clients, thing: string): Promise<string[]> {
  const out: string[] = [];
  let nextToken: string | undefined;
  do {
    const r = await call(`ListThingGroupsForThing ${thing}`, () =>
      c.iot.send(new ListThingGroupsForThingCommand({ thingName: thing, nextToken })),
    );
    out.push(...(r.thingGroups ?? []).map((g) => g.groupName ?? '').filter(Boolean));
    nextToken = r.nextToken;
  } while (nextToken);
  return out;
}

/** One step of a decommission plan: a description (dry run) and the idempotent action. */
export interface Step {
  describe: string;
  run(): Promise<unknown>;
}

/** Runs each plan's steps in order, saying each; `done` after every plan that had something to do. */
export async function runPlans<P extends { steps: Step[] }>(
  plans: P[],
  progress: (m: string) => void,
  done: (p: P) => void,
): Promise<void> {
  for (const p of plans) {
    for (const s of p.steps) {
      progress(s.describe);
      await s.run();
    }
    if (p.steps.length > 0) done(p);
  }
}

/** Thing attribute listing the certificate ids being decommissioned (so a re-run finds them after they are detached). */
export const DECOMMISSION_ATTRIBUTE = 'greengrass-image-decommission';

/**
 * Steps that remove a thing and everything attached to it, in the only order IoT accepts: record the
 * certificate ids (and, with `ownPolicy`, the core's own policies) on the thing, so a re-run after a failure
 * finds what is already detached from it; then per certificate detach its policies, detach it from the thing,
 * deactivate it, delete it; delete the core's own policy unless it is shared (core-policy.ts); leave each
 * group; delete the thing. Each step tolerates "already gone".
 */
export async function thingRemovalSteps(
  c: Clients,
  thing: string,
  opts: { ownPolicy?: boolean } = {},
): Promise<Step[]> {
  let desc;
  try {
    desc = await c.iot.send(new DescribeThingCommand({ thingName: thing }));
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return [];
    throw toAwsError(`DescribeThing ${thing}`, err);
  }
  const principals = (await thingPrincipals(c, thing)) ?? [];
  const certPrefix = (desc.thingArn ?? '').replace(/:thing\/.*$/, ':cert/');
  const entries = (desc.attributes?.[DECOMMISSION_ATTRIBUTE] ?? '').split(',').filter(Boolean);
  const recorded = entries.filter((e) => !e.startsWith(RECORDED_POLICY));
  const recordedPolicies = entries
    .filter((e) => e.startsWith(RECORDED_POLICY))
    .map((e) => e.slice(RECORDED_POLICY.length));
  const ids = [...new Set([...principals.map(certIdFromArn), ...recorded])];
  const certs: { id: string; arn: string; policies: string[] }[] = [];
  for (const id of ids) {
    const arn = principals.find((p) => certIdFromArn(p) === id) ?? `${certPrefix}${id}`;
    let policies: string[] = [];
    try {
      policies = await attachedPolicies(c, arn);
    } catch (err) {
      if (!isAwsErrorNamed(err, 'ResourceNotFoundException')) throw toAwsError('ListAttachedPolicies', err);
      if (!principals.includes(arn)) continue; // recorded earlier and already deleted
    }
    certs.push({ id, arn, policies });
  }
  const ourCerts = certs.map((x) => x.arn);
  const own = opts.ownPolicy
    ? await ownPolicies(
        c,
        thing,
        desc.thingArn ?? '',
        certs.flatMap((x) => x.policies),
        recordedPolicies,
        ourCerts,
      )
    : [];
  const toDelete = own.filter((p) => p.others.length === 0).map((p) => p.name);
  const steps: Step[] = [];
  const record = [...ids, ...toDelete.filter(recordable).map((n) => `${RECORDED_POLICY}${n}`)];
  if (record.some((e) => !entries.includes(e))) {
    const attributePayload = { attributes: { [DECOMMISSION_ATTRIBUTE]: record.join(',') }, merge: true };
    const policies = toDelete.length ? ` and policy ${toDelete.join(', ')}` : '';
    steps.push({
      describe:
        `record certificate(s) ${ids.join(', ') || '(none)'}${policies} on thing ${thing} ` +
        `(attribute ${DECOMMISSION_ATTRIBUTE}, for a resumed run)`,
      run: () =>
        ignoreNotFound('UpdateThing', () => c.iot.send(new UpdateThingCommand({ thingName: thing, attributePayload }))),
    });
  }
  for (const { id, arn, policies } of certs) {
    for (const p of policies) {
      steps.push({
        describe: `detach policy ${p} from certificate ${id}`,
        run: () =>
          ignoreNotFound(`DetachPolicy ${p}`, () =>
            c.iot.send(new DetachPolicyCommand({ policyName: p, target: arn })),
          ),
      });
    }
    if (principals.includes(arn)) {
      steps.push({
        describe: `detach certificate ${id} from thing ${thing}`,
        run: () =>
          ignoreNotFound('DetachThingPrincipal', () =>
            c.iot.send(new DetachThingPrincipalCommand({ thingName: thing, principal: arn })),
          ),
      });
    }
    steps.push({
      describe: `deactivate certificate ${id}`,
      run: () =>
        ignoreNotFound('UpdateCertificate', () =>
          c.iot.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'INACTIVE' })),
        ),
    });
    steps.push({ describe: `delete certificate ${id}`, run: () => deleteCertificateAfterDetach(c, id) });
  }
  for (const name of toDelete) steps.push(deleteOwnPolicyStep(c, thing, name, ourCerts));
  for (const g of await thingGroups(c, thing)) {
    steps.push({
      describe: `remove thing ${thing} from thing group ${g}`,
      run: () =>
        ignoreNotFound('RemoveThingFromThingGroup', () =>
          c.iot.send(new RemoveThingFromThingGroupCommand({ thingName: thing, thingGroupName: g })),
        ),
    });
  }
  steps.push({
    describe: `delete thing ${thing}`,
    run: () => ignoreNotFound('DeleteThing', () => c.iot.send(new DeleteThingCommand({ thingName: thing }))),
  });
  return steps;
}

/** A policy name that fits a thing attribute value (no ',' or '+'); others are found again by name or document. */
const recordable = (name: string) => /^[A-Za-z0-9_.@=:-]+$/.test(name);

/**
 * Seconds between DeleteCertificate attempts while IoT still reports the certificate attached: DetachThingPrincipal
 * "is asynchronous; it might take several seconds for the detachment to propagate" (API reference), and until then
 * DeleteCertificate answers DeleteConflictException (409), which the SDK does not retry. About 30 s in all.
 */
export const DELETE_CONFLICT_RETRY_SECONDS = [1, 2, 4, 8, 8, 8];

async function deleteCertificateAfterDetach(c: Clients, id: string): Promise<void> {
  await deleteWaitingOutConflict(
    `DeleteCertificate ${id}`,
    async () => {
      await c.iot.send(new DeleteCertificateCommand({ certificateId: id }));
    },
    DELETE_CONFLICT_RETRY_SECONDS,
  );
}

export async function ignoreNotFound<T>(op: string, send: () => Promise<T>): Promise<T | undefined> {
  try {
    return await send();
  } catch (err) {
    if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return undefined;
    throw toAwsError(op, err);
  }
}
