// `devices create NAME... --core CORE --output DIR`: client devices (MQTT things that talk to a core): per
// device a Thing, an active certificate with the client-device policy, certs written 0600 to
// <output>/<name>/certs/, then BatchAssociateClientDeviceWithCoreDevice (100 per call). Resumable like
// `cores create` (a device's certificate is reused on a re-run).
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BatchAssociateClientDeviceWithCoreDeviceCommand } from '@aws-sdk/client-greengrassv2';
import { AwsError, CliError, ConfigError, ExitCode, UsageError } from '../../../../common/errors.ts';
import { call, makeClients } from '../../aws.ts';
import { command } from '../../command.ts';
import type { Context } from '../../context.ts';
import { runBatch, validateConcurrency } from '../../fleet/batch.ts';
import { associatedClientDevices, DEFAULT_CLIENT_DEVICE_POLICY } from '../../fleet/core-devices.ts';
import { EventLog } from '../../fleet/events.ts';
import { attachCertificate, prepareThing, ensureCertificate, requirePolicy } from '../../fleet/iot-steps.ts';
import { batchNames, oneValue, singleName } from '../../fleet/names.ts';
import { EVENTS_OPTION, givenNames, namesArgument } from '../../options.ts';

export interface DevicesCreateOptions {
  core: string;
  names?: string[];
  output: string;
  policy?: string;
  concurrency?: number;
  events?: string;
}

export const devicesCreateCommand = command({
  command: 'create [names..]',
  describe: 'per device: Thing, certificate + policy (certs 0600 in --output), associate with the core',
  builder: (y) =>
    namesArgument(y, 'device')
      .option('core', { type: 'string', demandOption: true, describe: 'core device thing name' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'folder for <name>/certs/' })
      .option('policy', {
        type: 'string',
        describe: `IoT policy for the device certificates (default ${DEFAULT_CLIENT_DEVICE_POLICY})`,
      })
      .option('concurrency', { type: 'number', default: 4 })
      .option('events', EVENTS_OPTION),
}).runs(devicesCreate);

export async function devicesCreate(a: DevicesCreateOptions, ctx: Context): Promise<void> {
  const core = singleName(a.core, 'core');
  const names = batchNames({ names: givenNames(a.names, ctx) }, 'device');
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
      const dir = await prepareThing(c, out, name);
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
