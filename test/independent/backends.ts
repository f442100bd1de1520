// Two backends for the same builder scenario: the AWS wire STAND-IN (standins/aws) and moto (harness/moto.ts), an
// emulator written outside this project. The builder CLI runs as a child process with the real @aws-sdk clients
// pointed at one backend; the end state is read back through the AWS APIs (snapshot.ts) and compared.
// moto has no Greengrass v2: commands that call it get their Greengrass v2 endpoint from a stand-in beside moto
// (AWS_ENDPOINT_URL_GREENGRASSV2), so only their IoT and Secrets Manager side is checked independently.
import { CreatePolicyCommand, IoTClient } from '@aws-sdk/client-iot';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { join } from 'node:path';
import { startMoto, type MotoServer } from '../../harness/moto.ts';
import { reportCoreDevice } from '../../standins/aws/greengrassv2.ts';
import { withThings } from '../../standins/aws/iot-fleet.ts';
import { ca, runCli, startAwsStandin, type AwsStandin, type CliRun } from '../builder/helpers.ts';
import { tmp } from '../builder/fleet/fleet-helpers.ts';

export const REGION = 'eu-west-1';
const credentials = { accessKeyId: 'AKIDINDEPENDENT', secretAccessKey: 'independent-check' };

export interface Backend {
  name: 'stand-in' | 'moto';
  /** IoT and Secrets Manager endpoint. */
  url: string;
  /** A folder of this backend's own for the CLI's output (removed when the test process exits). */
  dir: string;
  /** The Greengrass v2 side: the stand-in itself, or a stand-in beside moto. */
  gg: AwsStandin;
  iot: IoTClient;
  sm: SecretsManagerClient;
  /** Run the builder CLI against this backend. */
  cli(args: string[]): Promise<CliRun>;
  /** A core that has connected to Greengrass (GetCoreDevice finds it). */
  coreConnected(name: string): void;
  /** Client-device things the Greengrass v2 side must know (see mirrorThings). */
  mirrorThings(names: string[]): void;
  close(): Promise<void>;
}

function env(url: string, ggUrl: string): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('AWS_')) delete base[k];
  return {
    ...base,
    AWS_ENDPOINT_URL: url,
    AWS_ENDPOINT_URL_GREENGRASSV2: ggUrl,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: REGION,
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    GREENGRASS_IMAGE_EVENTS: join(tmp('gg-independent-events-'), 'events.jsonl'),
  };
}

/** The policies the CloudFormation stack would have made (the builder requires them, it does not create them). */
export const POLICIES = [
  'GreengrassProvisioningClaimPolicy',
  'GreengrassV2IoTThingPolicy',
  'GreengrassClientDevicePolicy',
];
const EMPTY_POLICY = '{"Version":"2012-10-17","Statement":[]}';

async function make(name: Backend['name'], url: string, gg: AwsStandin): Promise<Backend> {
  const iot = new IoTClient({ endpoint: url, region: REGION, credentials });
  const sm = new SecretsManagerClient({ endpoint: url, region: REGION, credentials });
  for (const p of POLICIES) await iot.send(new CreatePolicyCommand({ policyName: p, policyDocument: EMPTY_POLICY }));
  const e = env(url, gg.url);
  return {
    name,
    url,
    dir: tmp(`gg-independent-${name}-`),
    gg,
    iot,
    sm,
    cli: (args) => runCli(args, e),
    coreConnected: (core) => reportCoreDevice(gg.state, { thingName: core }),
    mirrorThings(names) {
      // The Greengrass v2 stand-in checks client devices against its own thing table; beside moto that table is empty.
      if (name === 'stand-in') return;
      const things = withThings(gg.state).things;
      for (const n of names) {
        const thingArn = `arn:aws:iot:${REGION}:123456789012:thing/${n}`;
        const bare = { thingName: n, thingArn, thingId: n, attributes: {}, version: 1, principals: [] };
        things[n] ??= { ...bare, creationDate: 0 };
      }
    },
    async close() {
      iot.destroy();
      sm.destroy();
      await gg.close();
    },
  };
}

export async function standinBackend(): Promise<Backend> {
  const s = await startAwsStandin({ ca, endpoints: { region: REGION } });
  return make('stand-in', s.url, s);
}

/** A moto backend on a shared server, reset first; the caller stops the server. */
export async function motoBackend(moto: MotoServer): Promise<Backend> {
  await moto.reset();
  const gg = await startAwsStandin({ ca, endpoints: { region: REGION } });
  return make('moto', moto.url, gg);
}

export { startMoto, type MotoServer };
