// `devices create --core NAME --names a,b --output DIR`: client devices (MQTT things that talk to a
// core): per device a Thing, an active certificate with the client-device policy, certs written
// 0600 to <output>/<name>/certs/, then BatchAssociateClientDeviceWithCoreDevice (100 per call).
// Resumable like `cores create` (a device's certificate is reused on a re-run).
// `devices delete --core NAME --names a,b [--deprovision] [--yes]`: disassociate from the core; with
// --deprovision also delete certificates and Things. Dry run unless --yes.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BatchAssociateClientDeviceWithCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { AwsError, CliError, ConfigError, ExitCode, UsageError } from '../../../../common/errors.ts';
import { call } from '../../aws.ts';
import type { Context } from '../../context.ts';
import { runBatch, validateConcurrency } from '../../fleet/batch.ts';
import { makeClients } from '../../aws.ts';
import { EventLog } from '../../fleet/events.ts';
import {
  attachCertificate,
  createThing,
  ensureCertificate,
  refuseThingInUse,
  requirePolicy,
  thingRemovalSteps,
  type Step,
} from '../../fleet/iot-steps.ts';
import { batchNames, singleName } from '../../fleet/names.ts';
import { associatedClientDevices, disassociateSteps, isCoreDevice } from '../cores/delete.ts';
import { oneValue } from '../cores/create.ts';

export const DEFAULT_CLIENT_DEVICE_POLICY = 'GreengrassClientDevicePolicy';

export interface DevicesCreateArgs {
  core: string;
  names: string | string[];
  output: string;
  policy?: string;
  concurrency?: number;
  events?: string;
}

export async function devicesCreate(a: DevicesCreateArgs, ctx: Context): Promise<void> {
  const core = singleName(a.core, 'core');
  const names = batchNames({ names: a.names }, 'device');
  if (names.includes(core)) throw new UsageError(`device name ${core} is the core's own name`);
  const out = resolve(oneValue(a.output, '--output'));
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new UsageError(`--output ${out} exists and is not a directory`);
  const concurrency = validateConcurrency(a.concurrency ?? 4);
  const policy = a.policy ?? DEFAULT_CLIENT_DEVICE_POLICY;
  const events = new EventLog(a.events);
  const c = makeClients(ctx);
  // The core must have registered with Greengrass (first boot done) before devices can associate.
  const existing = await associatedClientDevices(c, core);
  if (existing === null)
    throw new ConfigError(
      `core ${core} is not a Greengrass core device (it never connected); devices can only be associated with a running core`,
      'core-missing',
    );
  await requirePolicy(c, policy);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const res = await runBatch(
    names,
    ['created', 'resumed'] as const,
    async (name) => {
      const dir = join(out, name);
      mkdirSync(join(dir, 'certs'), { recursive: true, mode: 0o700 });
      await createThing(c, name);
      await refuseThingInUse(c, name, dir);
      const { record, created } = await ensureCertificate(c, name, dir);
      await attachCertificate(c, name, policy, record.certificateArn);
      return created ? 'created' : 'resumed';
    },
    { concurrency },
  );
  if (res.failures.length > 0) {
    const f = res.failures[0] as { item: string; error: Error };
    throw new CliError(
      `devices create stopped before associating: ${f.item}: ${f.error.message}\nre-run the same command to resume`,
      f.error instanceof CliError ? f.error.exitCode : ExitCode.INTERNAL,
      'batch-incomplete',
    );
  }
  const toAssociate = names.filter((n) => !existing.includes(n));
  for (let i = 0; i < toAssociate.length; i += 100) {
    const chunk = toAssociate.slice(i, i + 100);
    const r = await call('BatchAssociateClientDeviceWithCoreDevice', () =>
      c.gg.send(
        new BatchAssociateClientDeviceWithCoreDeviceCommand({
          coreDeviceThingName: core,
          entries: chunk.map((thingName) => ({ thingName })),
        }),
      ),
    );
    if (r.errorEntries?.length) {
      throw new AwsError(
        `BatchAssociateClientDeviceWithCoreDevice: ${r.errorEntries.map((e) => `${e.thingName}: ${e.code} ${e.message}`).join('; ')}`,
        'associate-failed',
      );
    }
    for (const n of chunk)
      events.append({ type: 'device.created', thingName: n, coreDeviceThingName: core, output: join(out, n) });
  }
  ctx.result(
    {
      core,
      created: res.counts.created,
      resumed: res.counts.resumed,
      associated: toAssociate.length,
      alreadyAssociated: names.length - toAssociate.length,
      output: out,
    },
    [
      `${names.length} client device(s) ready for core ${core} (${toAssociate.length} newly associated); certs in ${out}/<name>/certs/`,
    ],
  );
}

export interface DevicesDeleteArgs {
  core: string;
  names: string | string[];
  deprovision?: boolean;
  yes?: boolean;
  events?: string;
}

export async function devicesDelete(a: DevicesDeleteArgs, ctx: Context): Promise<void> {
  const core = singleName(a.core, 'core');
  const names = batchNames({ names: a.names }, 'device');
  if (names.includes(core))
    throw new UsageError(`device name ${core} is the core's own name: use cores delete to remove a core`);
  const events = new EventLog(a.events);
  const c = makeClients(ctx);
  const associated = (await associatedClientDevices(c, core)) ?? [];
  const plans: { device: string; steps: Step[] }[] = [];
  for (const d of names) {
    // Another core's name here would deprovision that core's identity.
    if (a.deprovision && (await isCoreDevice(c, d))) {
      throw new UsageError(
        `${d} is a Greengrass core device, not a client device: use cores delete ${d} to remove a core`,
      );
    }
  }
  for (const d of names) {
    const steps: Step[] = associated.includes(d) ? disassociateSteps(c, core, [d]) : [];
    if (a.deprovision) steps.push(...(await thingRemovalSteps(c, d)));
    plans.push({ device: d, steps });
  }
  const plan = plans.map((p) => ({ device: p.device, steps: p.steps.map((s) => s.describe) }));
  if (!a.yes) {
    ctx.result({ dryRun: true, core, plan }, [
      'dry run (nothing changed); re-run with --yes to do this:',
      ...plans.flatMap((p) => [
        `${p.device}:`,
        ...(p.steps.length ? p.steps.map((s) => `  - ${s.describe}`) : ['  - nothing to do']),
      ]),
    ]);
    return;
  }
  for (const p of plans) {
    for (const s of p.steps) {
      ctx.progress(s.describe);
      await s.run();
    }
    if (p.steps.length > 0)
      events.append({
        type: 'device.deleted',
        thingName: p.device,
        coreDeviceThingName: core,
        deprovisioned: a.deprovision === true,
      });
  }
  ctx.result(
    { dryRun: false, core, plan },
    plans.map((p) => `${p.device}: ${p.steps.length ? `${p.steps.length} step(s) done` : 'nothing to do'}`),
  );
}
