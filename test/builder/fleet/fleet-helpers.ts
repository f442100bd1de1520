// Shared by the fleet tests: the AWS wire STAND-IN with the device policy in place, the real CLI as a
// child process, and fault injection on the Nth call of an operation.
import { readFileSync, existsSync } from 'node:fs';
import { IoTClient, CreatePolicyCommand } from '@aws-sdk/client-iot';
import yaml from 'js-yaml';
import { join } from 'node:path';
import { ca, cliEnv as baseEnv, runCli, startAwsStandin, tmp, type AwsStandin } from '../helpers.ts';
import type { Fault } from '../../../standins/aws/server.ts';
import { withThings } from '../../../standins/aws/iot-fleet.ts';

export { runCli, tmp, type AwsStandin };

/** The CLI's environment; the default event log goes to a temp file, never into the repo. */
export function cliEnv(s: AwsStandin, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return baseEnv(s, { GREENGRASS_IMAGE_EVENTS: join(tmp('gg-events-'), 'events.jsonl'), ...extra });
}

export const DATA = 'a1-ats.iot.eu-west-1.amazonaws.com';
export const CRED = 'c1.credentials.iot.eu-west-1.amazonaws.com';

export async function standin(policies = ['GreengrassV2IoTThingPolicy']): Promise<AwsStandin> {
  const s = await startAwsStandin({
    ca,
    endpoints: { iotDataEndpoint: DATA, iotCredEndpoint: CRED, region: 'eu-west-1' },
  });
  const iot = new IoTClient({
    endpoint: s.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  for (const p of policies)
    await iot.send(
      new CreatePolicyCommand({ policyName: p, policyDocument: '{"Version":"2012-10-17","Statement":[]}' }),
    );
  iot.destroy();
  s.requests.length = 0;
  return s;
}

/** Queue `fault` (count times) so it hits the Nth call of `op` (1-based) and the attempts after it. */
export function faultOnNth(s: AwsStandin, op: string, n: number, fault: Fault, count = 1): void {
  let seen = 0;
  const push = s.requests.push.bind(s.requests);
  // The server records a request before it consults the fault queue, so queueing here is in time.
  s.requests.push = (...items) => {
    for (const r of items) if (r.op === op && ++seen === n) s.injectFault(op, fault, count);
    return push(...items);
  };
}

export const things = (s: AwsStandin) => withThings(s.state).things;

export function readYaml(file: string): Record<string, any> {
  return yaml.load(readFileSync(file, 'utf8')) as Record<string, any>;
}

export function events(file: string): Record<string, any>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}
