// The provisioning stand-in's side of one account: what AWS IoT's RegisterThing and Greengrass's status intake write
// into the registry, sent to the AWS stand-in's control endpoints (standins/aws/account-feed.ts). Fire and forget,
// in order per process: a report that cannot be delivered is logged on stderr, never fatal to the MQTT side.
import { createHash } from 'node:crypto';
import { stackIotPolicies } from '../../cloudformation/template.ts';
import type { ProvisioningStandinOptions } from './server.ts';

type Account = NonNullable<ProvisioningStandinOptions['account']>;

export function accountFeed(url: string, region: string, accountId: string): Account {
  const policies = stackIotPolicies({ region, accountId });
  let queue = Promise.resolve();
  const send = (path: string, body: unknown) => {
    queue = queue
      .then(async () => {
        const r = await fetch(`${url.replace(/\/$/, '')}/__standin/${path}`, {
          method: 'POST',
          body: JSON.stringify(body),
        });
        if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
      })
      .catch((err: unknown) => {
        process.stderr.write(
          `provisioning stand-in: could not report ${path} to the account at ${url}: ${(err as Error).message}\n`,
        );
      });
  };
  return {
    registered(r) {
      // The template's per-core policy has no name: IoT names it from a hash of its document.
      const policyDocument = JSON.stringify(policies.core(r.thingName));
      const policyName = createHash('sha256').update(policyDocument).digest('hex');
      send('provisioned', {
        thingName: r.thingName,
        certificateId: r.certificateId,
        certificatePem: r.certificatePem,
        thingGroups: r.thingGroups,
        policyName,
        policyDocument,
      });
    },
    coreStatus(thingName, status) {
      const overall = status.overallDeviceStatus === 'UNHEALTHY' ? 'UNHEALTHY' : 'HEALTHY';
      const opt = (k: string) => (typeof status[k] === 'string' ? (status[k] as string) : undefined);
      send('core-status', {
        thingName,
        status: overall,
        coreVersion: opt('ggcVersion'),
        platform: opt('platform'),
        architecture: opt('architecture'),
      });
    },
  };
}
