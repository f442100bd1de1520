// `cores create`: MANUAL provisioning for sites where claim certificates are not allowed. Per core:
// a Thing in the thing group, an active certificate with the core's own policy attached (the document
// the stack's provisioning template gives a fleet-provisioned core, or --policy), and an output
// folder <output>/<name>/ holding the installer config (config.yaml) and the certs bundle (certs/:
// device.pem.crt, private.pem.key, certificate.json, AmazonRootCA1.pem when --root-ca is given),
// every file 0600. Batched with bounded concurrency; resumable: config.yaml is written last, so a
// re-run skips finished cores and, for a core cut off half-way, reuses its certificate.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomicAsync } from '../../../../common/atomic-write.ts';
import { CliError, ConfigError, ExitCode, UsageError } from '../../../../common/errors.ts';
import { parseCertificate } from '../../../../common/pem.ts';
import {
  renderManualInstallerConfig,
  type ManualInstallerSettings,
} from '../../../../common/manual-installer-config.ts';
import { command } from '../../command.ts';
import type { Context } from '../../context.ts';
import { DEFAULT_NUCLEUS_VERSION, DEFAULT_ROLE_ALIAS } from '../../installer-settings.ts';
import { progressBar, runBatch, validateConcurrency } from '../../fleet/batch.ts';
import { makeClients } from '../../aws.ts';
import { EventLog } from '../../fleet/events.ts';
import { stackIotPolicies } from '../../../../cloudformation/template.ts';
import {
  addToGroup,
  attachCertificate,
  prepareThing,
  endpoint,
  ensureCertificate,
  ensureCorePolicy,
  ensureThingGroup,
  requirePolicy,
} from '../../fleet/iot-steps.ts';
import { batchNames, oneValue, validateThingGroupName } from '../../fleet/names.ts';
import { EVENTS_OPTION, givenNames, namesArgument } from '../../options.ts';

export interface CoresCreateOptions {
  names?: string[];
  count?: number;
  prefix?: string;
  start?: number;
  thingGroup: string;
  output: string;
  policy?: string;
  roleAlias?: string;
  nucleusVersion?: string;
  iotDataEndpoint?: string;
  iotCredEndpoint?: string;
  rootCa?: string;
  mqttPort?: number;
  concurrency?: number;
  rate?: number;
  events?: string;
}

export const CONFIG_FILE = 'config.yaml';

export const coresCreateCommand = command({
  command: 'create [names..]',
  describe:
    'per core: Thing in the group, certificate + device policy, MANUAL installer config and certs bundle (0600), batched and resumable',
  builder: (y) =>
    namesArgument(y, 'core')
      .option('count', { type: 'number', describe: 'number of cores, named <prefix><NNN>' })
      .option('prefix', { type: 'string', describe: 'name prefix with --count' })
      .option('start', { type: 'number', describe: 'first number with --count (default 1)' })
      .option('thing-group', {
        type: 'string',
        demandOption: true,
        describe: 'thing group the cores join (deployments target it)',
      })
      .option('output', {
        alias: 'o',
        type: 'string',
        demandOption: true,
        describe: 'folder for <name>/config.yaml and <name>/certs/',
      })
      .option('policy', {
        type: 'string',
        describe:
          'existing IoT policy for the core certificates (default: a policy per core, GreengrassCorePolicy-<name>, ' +
          'with the document the stack gives fleet-provisioned cores)',
      })
      .option('role-alias', { type: 'string', describe: `token-exchange role alias (default ${DEFAULT_ROLE_ALIAS})` })
      .option('nucleus-version', {
        type: 'string',
        describe: `nucleus version pinned in the config (default ${DEFAULT_NUCLEUS_VERSION})`,
      })
      .option('iot-data-endpoint', {
        type: 'string',
        describe: 'iot:Data-ATS endpoint (DescribeEndpoint when not given)',
      })
      .option('iot-cred-endpoint', {
        type: 'string',
        describe: 'iot:CredentialProvider endpoint (DescribeEndpoint when not given)',
      })
      .option('mqtt-port', { type: 'number', describe: 'nucleus mqtt.port (e.g. 443)' })
      .option('root-ca', { type: 'string', describe: 'Amazon root CA PEM to copy into each certs bundle' })
      .option('concurrency', { type: 'number', default: 8, describe: 'cores in flight at once' })
      .option('rate', { type: 'number', describe: 'at most this many AWS calls per second (client-side)' })
      .option('events', EVENTS_OPTION),
}).runs(coresCreate);

export async function coresCreate(a: CoresCreateOptions, ctx: Context): Promise<void> {
  // Everything the operator gave is checked before the first AWS call.
  const names = batchNames({ ...a, names: givenNames(a.names, ctx) }, 'core');
  const group = validateThingGroupName(a.thingGroup);
  const concurrency = validateConcurrency(a.concurrency ?? 8);
  const out = resolve(oneValue(a.output, '--output'));
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new UsageError(`--output ${out} exists and is not a directory`);
  let rootCa: string | undefined;
  if (a.rootCa) {
    try {
      rootCa = readFileSync(a.rootCa, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `cannot read --root-ca ${a.rootCa}: ${(err as NodeJS.ErrnoException).code}`,
        'root-ca-missing',
      );
    }
    parseCertificate(rootCa, `--root-ca ${a.rootCa}`);
  }
  const policy = a.policy === undefined ? undefined : oneValue(a.policy, '--policy');
  const events = new EventLog(a.events);
  const c = makeClients(ctx, { rate: a.rate });
  const region = await c.region();
  const base: Omit<ManualInstallerSettings, 'thingName'> = {
    nucleusVersion: a.nucleusVersion ?? DEFAULT_NUCLEUS_VERSION,
    awsRegion: region,
    iotDataEndpoint: a.iotDataEndpoint ?? 'placeholder.invalid',
    iotCredentialEndpoint: a.iotCredEndpoint ?? 'placeholder.invalid',
    iotRoleAlias: a.roleAlias ?? DEFAULT_ROLE_ALIAS,
    ...(a.mqttPort !== undefined ? { mqttPort: a.mqttPort } : {}),
  };
  // Settings problems (region, version, port) surface now, not after N things exist.
  renderManualInstallerConfig({ ...base, thingName: names[0] as string });
  mkdirSync(out, { recursive: true, mode: 0o700 });

  const pending = names.filter((n) => !existsSync(join(out, n, CONFIG_FILE)));
  const already = names.length - pending.length;
  if (pending.length === 0) {
    ctx.result({ created: 0, alreadyComplete: already, output: out, thingGroup: group }, [
      `all ${names.length} cores already complete in ${out}; nothing to do`,
    ]);
    return;
  }
  if (!a.iotDataEndpoint) base.iotDataEndpoint = await endpoint(c, 'iot:Data-ATS');
  if (!a.iotCredEndpoint) base.iotCredentialEndpoint = await endpoint(c, 'iot:CredentialProvider');
  // The discovered endpoints must be in the clients' region (the nucleus refuses others): checked before anything is made.
  renderManualInstallerConfig({ ...base, thingName: pending[0] as string });
  if (policy) await requirePolicy(c, policy);
  const groupArn = await ensureThingGroup(c, group);
  // The per-core policy's partition and account, from the group's ARN (arn:<partition>:iot:<region>:<account>:...).
  const [, partition = 'aws', , , accountId = ''] = groupArn.split(':');
  const stackParameters = { TokenExchangeRoleAliasName: base.iotRoleAlias };
  const corePolicies = stackIotPolicies({ partition, region, accountId, parameters: stackParameters });
  ctx.progress(
    `creating ${pending.length} core(s) in thing group ${group} (${already} already complete), concurrency ${concurrency}${a.rate ? `, at most ${a.rate} calls/s` : ''}`,
  );

  const bar = progressBar('cores create', pending.length);
  const res = await runBatch(
    pending,
    ['created', 'resumed'] as const,
    async (name) => {
      const dir = await prepareThing(c, out, name);
      await addToGroup(c, name, group);
      const { record, created } = await ensureCertificate(c, name, dir);
      const corePolicy = policy ?? (await ensureCorePolicy(c, name, corePolicies.core(name)));
      await attachCertificate(c, name, corePolicy, record.certificateArn);
      if (rootCa !== undefined) await writeFileAtomicAsync(join(dir, 'certs', 'AmazonRootCA1.pem'), rootCa, 0o600);
      // The event before config.yaml: a core whose event could not be logged is not complete, so a re-run logs it.
      events.append({
        type: 'core.created',
        thingName: name,
        thingGroup: group,
        thingGroupArn: groupArn,
        certificateId: record.certificateId,
        output: dir,
      });
      await writeFileAtomicAsync(
        join(dir, CONFIG_FILE),
        renderManualInstallerConfig({ ...base, thingName: name }),
        0o600,
      );
      return created ? 'created' : 'resumed';
    },
    { concurrency, progress: (done) => bar(done) },
  );
  const ok = res.counts.created + res.counts.resumed;
  if (res.failures.length > 0) {
    const first = res.failures[0] as { item: string; error: Error };
    const lines = res.failures.map((f) => `${f.item}: ${f.error.message}`);
    const code = first.error instanceof CliError ? first.error.exitCode : ExitCode.INTERNAL;
    throw new CliError(
      `cores create stopped: ${ok} of ${pending.length} done in this run (${already} were complete before), ${res.failures.length} failed, ${res.notStarted} not started:\n  - ${lines.join('\n  - ')}\nre-run the same command to resume: only what is missing is created${res.failures.some((f) => (f.error as Partial<CliError>).reason === 'thing-in-use') ? " (a name that is another machine's identity is refused again: drop or rename it)" : ''}`,
      code,
      'batch-incomplete',
    );
  }
  ctx.result(
    {
      created: res.counts.created,
      resumed: res.counts.resumed,
      alreadyComplete: already,
      total: names.length,
      output: out,
      thingGroup: group,
      thingGroupArn: groupArn,
      eventsFile: events.path,
    },
    [
      `${res.counts.created} core(s) created${res.counts.resumed ? `, ${res.counts.resumed} resumed` : ''}${already ? `, ${already} already complete` : ''} in thing group ${group}`,
      `installer configs and certs: ${out}/<name>/{${CONFIG_FILE},certs/}`,
    ],
  );
}
