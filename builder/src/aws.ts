// AWS SDK v3 clients with the standard behaviour: default credential chain, --profile, --region,
// AWS_* variables (AWS_ENDPOINT_URL*, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE) and the SDK's own retries
// for throttling and 5xx. Every call goes through `call`, which turns SDK failures into AwsError.
import { IoTClient } from '@aws-sdk/client-iot';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { AwsError, UsageError } from '../../common/errors.ts';
import type { Context } from './context.ts';
import { RateLimiter } from './fleet/batch.ts';
import { proxyAgent } from './proxy.ts';

export interface Clients {
  iot: IoTClient;
  sm: SecretsManagerClient;
  gg: GreengrassV2Client;
  /** The region the clients resolved (flag, AWS_REGION, or the profile's config). */
  region(): Promise<string>;
}

/**
 * `rate` (calls per second) spaces every HTTP attempt, retries included, so a large batch stays
 * under the account's API rate instead of leaning on throttling retries.
 */
export function makeClients(ctx: Pick<Context, 'profile' | 'region'>, o: { rate?: number } = {}): Clients {
  const cfg = {
    ...(ctx.region ? { region: ctx.region } : {}),
    ...(ctx.profile ? { profile: ctx.profile } : {}),
    // The SDK's https connections through HTTPS_PROXY unless NO_PROXY lists the endpoint (proxy.ts).
    requestHandler: { httpsAgent: proxyAgent() },
  };
  const iot = new IoTClient(cfg);
  const sm = new SecretsManagerClient(cfg);
  const gg = new GreengrassV2Client(cfg);
  if (o.rate !== undefined) {
    if (!(o.rate > 0)) throw new UsageError(`--rate must be a positive number of calls per second, got ${o.rate}`);
    const limiter = new RateLimiter(o.rate);
    for (const c of [iot, sm, gg] as { middlewareStack: IoTClient['middlewareStack'] }[]) {
      // 'deserialize' is the innermost step: it runs once per HTTP attempt, inside the retry loop.
      c.middlewareStack.add(
        (next) => async (args) => {
          await limiter.acquire();
          return next(args);
        },
        { step: 'deserialize', name: 'greengrassImageRateLimit', priority: 'low' },
      );
    }
  }
  return {
    iot,
    sm,
    gg,
    async region() {
      try {
        const r = await iot.config.region();
        if (r) return r;
      } catch {
        // fall through
      }
      throw new UsageError('no AWS region: pass --region or set AWS_REGION (or a region in the profile)');
    },
  };
}

interface SdkError extends Error {
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $fault?: string;
}

export function isAwsErrorNamed(err: unknown, name: string): boolean {
  return err instanceof Error && err.name === name && '$metadata' in err;
}

/**
 * A delete IoT refuses for a while after a detach, with DeleteConflictException (409), which the SDK does not retry:
 * `attempt` runs again after each of `waitSeconds`. ResourceNotFoundException means it is gone already. Out of waits,
 * the conflict ends the run: as `exhausted` says, or as the operation's own error.
 */
export async function deleteWaitingOutConflict(
  op: string,
  attempt: () => Promise<void>,
  waitSeconds: readonly number[],
  exhausted?: { message: string; reason: string },
): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await attempt();
      return;
    } catch (err) {
      if (isAwsErrorNamed(err, 'ResourceNotFoundException')) return;
      const wait = waitSeconds[i];
      if (!isAwsErrorNamed(err, 'DeleteConflictException')) throw toAwsError(op, err);
      if (wait === undefined)
        throw exhausted ? new AwsError(exhausted.message, exhausted.reason, { cause: err }) : toAwsError(op, err);
      await new Promise((r) => setTimeout(r, wait * 1000));
    }
  }
}

/** Send a command; any failure becomes one clear AwsError line naming the operation. */
export async function call<T>(op: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw toAwsError(op, err);
  }
}

export function toAwsError(op: string, err: unknown): Error {
  if (err instanceof AwsError || err instanceof UsageError) return err;
  const e = err as SdkError;
  if (e?.name === 'CredentialsProviderError' || (/credential/i.test(e?.message ?? '') && !e.$metadata)) {
    return new AwsError(
      `${op}: no AWS credentials found (${e.message.split('\n')[0]}); configure a profile or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
      'no-credentials',
      { cause: err },
    );
  }
  if (/Region is missing/i.test(e?.message ?? '')) {
    return new UsageError('no AWS region: pass --region or set AWS_REGION (or a region in the profile)', {
      cause: err,
    });
  }
  const meta = e?.$metadata;
  const where = meta
    ? ` (HTTP ${meta.httpStatusCode ?? '-'}, ${meta.attempts ?? 1} attempt${(meta.attempts ?? 1) === 1 ? '' : 's'})`
    : '';
  const reason =
    e?.name === 'ResourceNotFoundException' ? 'not-found' : e?.name === 'ThrottlingException' ? 'throttled' : 'aws';
  return new AwsError(
    `${op} failed: ${e?.name ?? 'Error'}: ${(e?.message ?? String(err)).split('\n')[0]}${where}`,
    reason,
    { cause: err },
  );
}
