// SDK clients for the fleet commands: IoT and Greengrass v2, with the standard credential chain,
// --profile / --region, AWS_* variables and the SDK's own retries (builder/src/aws.ts does the same
// for claim/build). An optional client-side rate limit spaces every HTTP attempt (retries included)
// so a large batch stays under the account's API rate instead of leaning on throttling retries.
import { IoTClient } from '@aws-sdk/client-iot';
import { GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { UsageError } from '../../../common/errors.ts';
import type { Context } from '../context.ts';
import { RateLimiter } from './batch.ts';

export interface FleetClients {
  iot: IoTClient;
  gg: GreengrassV2Client;
  region(): Promise<string>;
}

export function makeFleetClients(ctx: Pick<Context, 'profile' | 'region'>, o: { rate?: number } = {}): FleetClients {
  const cfg = { ...(ctx.region ? { region: ctx.region } : {}), ...(ctx.profile ? { profile: ctx.profile } : {}) };
  const iot = new IoTClient(cfg);
  const gg = new GreengrassV2Client(cfg);
  if (o.rate !== undefined) {
    if (!(o.rate > 0)) throw new UsageError(`--rate must be a positive number of calls per second, got ${o.rate}`);
    const limiter = new RateLimiter(o.rate);
    for (const c of [iot, gg] as { middlewareStack: IoTClient['middlewareStack'] }[]) {
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
