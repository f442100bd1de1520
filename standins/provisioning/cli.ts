// CLI for the provisioning STAND-IN (offline QEMU pipeline). Prints "listening host:port" when ready; stops on SIGTERM/SIGINT
// with exit 0. Run it as `node --import tsx standins/provisioning/cli.ts ...`: the `tsx` CLI wrapper may answer SIGTERM with 143.
//   tsx standins/provisioning/cli.ts --ca-dir DIR [--host 0.0.0.0] [--port 8883] --template NAME [--rate N]
//        [--rate-limiter token-bucket|sliding-window] [--rate-burst B]   (see rate-limiter.ts; default token bucket of max(1, N))
//        [--records FILE] [--group NAME] [--required-params ThingName,Serial] [--alt-dns a,b] [--alt-ip 1.2.3.4]
//        [--device-cert-issuer openssl|in-process]   (in-process: node:crypto, ~1.7 ms per certificate; for fleet benchmarks)
//        [--thing-groups a,b | --aws-state FILE]   the thing groups that exist (RegisterThing naming another fails);
//        --aws-state reads them from the AWS stand-in's state file at each RegisterThing
//        [--thing-override REPLACE|MERGE|DO_NOTHING|FAIL]   the template's OverrideSettings (default REPLACE)
//        [--account URL]   the AWS stand-in of the same account: registrations and core status reports go there
//        [--stack-hook]    call the stack's pre-provisioning hook, its AWS clients pointed at --account
//        [--stack-policies]   evaluate the stack's claim and per-core IoT policies on every Connect/Publish/Subscribe
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { loadOrCreateCa } from '../pki.ts';
import { accountFeed } from './account-feed.ts';
import type { PreProvisioningHook } from './pre-provisioning-hook.ts';
import { loadStackHook } from '../../harness/stack-hook.ts';
import { stackIotPolicies } from '../../cloudformation/template.ts';
import { startProvisioningStandin } from './server.ts';
import { RATE_LIMITER_KINDS, createRateLimiter, type RateLimiterKind } from './rate-limiter.ts';
import { ExitCode } from '../../common/errors.ts';

function list(v: string | undefined): string[] | undefined {
  return v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

const OVERRIDES = ['REPLACE', 'MERGE', 'DO_NOTHING', 'FAIL'] as const;

/** The thing groups in the AWS stand-in's state file (standins/aws/state.ts: `thingGroups` keyed by name). */
function groupsInAwsState(file: string): string[] {
  if (!existsSync(file)) return [];
  const state = JSON.parse(readFileSync(file, 'utf8')) as { thingGroups?: Record<string, unknown> };
  return Object.keys(state.thingGroups ?? {});
}

/** Where the offline account lives: the AWS stand-in's default region and account. */
const STACK = { region: 'us-east-1', accountId: '123456789012' };
const CREDENTIALS = { accessKeyId: 'AKIASTANDINOFFLINE00', secretAccessKey: 'stand-in-secret-not-a-real-key' };

/** The stack's hook, as Lambda would run it, reading the account at `url`. */
function stackHook(url: string): PreProvisioningHook {
  const hook = loadStackHook();
  return hook.createHandler({ clientConfig: { endpoint: url, region: STACK.region, credentials: CREDENTIALS } });
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'ca-dir': { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8883' },
        template: { type: 'string' },
        rate: { type: 'string' },
        'rate-limiter': { type: 'string' },
        'rate-burst': { type: 'string' },
        records: { type: 'string' },
        group: { type: 'string' },
        'required-params': { type: 'string' },
        'alt-dns': { type: 'string' },
        'alt-ip': { type: 'string' },
        'device-cert-issuer': { type: 'string' },
        'thing-groups': { type: 'string' },
        'aws-state': { type: 'string' },
        'thing-override': { type: 'string' },
        account: { type: 'string' },
        'stack-hook': { type: 'boolean' },
        'stack-policies': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`provisioning stand-in: ${(err as Error).message}\n`);
    process.exit(ExitCode.USAGE);
  }
  const usage = (msg: string): never => {
    process.stderr.write(`provisioning stand-in: ${msg}\n`);
    process.exit(ExitCode.USAGE);
  };
  if (!values['ca-dir']) usage('--ca-dir DIR is required');
  if (!values.template) usage('--template NAME is required');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    usage(`--port must be a port number, got ${JSON.stringify(values.port)}`);
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !(rate > 0)) usage(`--rate must be a positive number, got ${JSON.stringify(values.rate)}`);
  const limiter = values['rate-limiter'];
  if (limiter !== undefined && !(RATE_LIMITER_KINDS as readonly string[]).includes(limiter))
    usage(`--rate-limiter must be one of ${RATE_LIMITER_KINDS.join(', ')}, got ${JSON.stringify(limiter)}`);
  const burst = values['rate-burst'] === undefined ? undefined : Number(values['rate-burst']);
  if ((limiter !== undefined || burst !== undefined) && rate === undefined)
    usage('--rate-limiter and --rate-burst need --rate');
  const rateLimiter = limiter as RateLimiterKind | undefined;
  if (rate !== undefined) {
    try {
      createRateLimiter({ ratePerSecond: rate, kind: rateLimiter, burst }); // the limiter's own checks, as usage errors
    } catch (err) {
      usage(`--rate-burst: ${(err as Error).message}`);
    }
  }
  const issuer = values['device-cert-issuer'];
  if (issuer !== undefined && issuer !== 'openssl' && issuer !== 'in-process')
    usage(`--device-cert-issuer must be openssl or in-process, got ${JSON.stringify(issuer)}`);
  if (values['thing-groups'] !== undefined && values['aws-state'] !== undefined) {
    usage('give --thing-groups or --aws-state, not both');
  }
  const override = values['thing-override'];
  if (override !== undefined && !(OVERRIDES as readonly string[]).includes(override)) {
    usage(`--thing-override must be one of ${OVERRIDES.join(', ')}, got ${JSON.stringify(override)}`);
  }
  if (values['stack-hook'] && !values.account)
    usage('--stack-hook needs --account URL (the hook reads the account there)');
  const stateFile = values['aws-state'];
  const thingGroups = stateFile !== undefined ? () => groupsInAwsState(stateFile) : list(values['thing-groups']);
  const ca = loadOrCreateCa(values['ca-dir'] as string);
  const dns = list(values['alt-dns']);
  const ip = list(values['alt-ip']);
  const standin = await startProvisioningStandin({
    ca,
    host: values.host,
    port,
    templateName: values.template as string,
    ...(rate !== undefined ? { ratePerSecond: rate } : {}),
    ...(rateLimiter !== undefined ? { rateLimiter } : {}),
    ...(burst !== undefined ? { rateBurst: burst } : {}),
    ...(values.records ? { recordsFile: values.records } : {}),
    ...(values.group ? { defaultThingGroup: values.group } : {}),
    ...(values['required-params'] ? { requiredParameters: list(values['required-params']) } : {}),
    serverAltNames: { ...(dns ? { dns } : {}), ...(ip ? { ip } : {}) },
    ...(issuer ? { deviceCertificateIssuer: issuer as 'openssl' | 'in-process' } : {}),
    ...(thingGroups ? { thingGroups } : {}),
    ...(override ? { thingOverride: override as (typeof OVERRIDES)[number] } : {}),
    ...(values.account ? { account: accountFeed(values.account, STACK.region, STACK.accountId) } : {}),
    ...(values['stack-hook'] ? { preProvisioningHook: stackHook(values.account as string) } : {}),
    ...(values['stack-policies']
      ? { policies: stackIotPolicies(STACK), region: STACK.region, accountId: STACK.accountId }
      : {}),
  });
  process.stdout.write(`listening ${standin.host}:${standin.port}\n`);
  const shutdown = (sig: string) => {
    void standin.stop().then(() => {
      const counts = `registrations=${standin.registrations.length} takeovers=${standin.takeovers.length}`;
      process.stderr.write(
        `provisioning stand-in: stopped (${sig}); ${counts} rejections=${standin.rejections.length}\n`,
      );
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`provisioning stand-in: ${(err as Error).message}\n`);
  process.exit(ExitCode.INTERNAL);
});
