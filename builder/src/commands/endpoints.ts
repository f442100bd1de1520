// `endpoints`: DescribeEndpoint for iot:Data-ATS and iot:CredentialProvider.
import { DescribeEndpointCommand } from '@aws-sdk/client-iot';
import { call, makeClients } from '../aws.ts';
import { command } from '../command.ts';
import type { Context } from '../context.ts';

export const endpointsCommand = command({
  command: 'endpoints',
  describe: 'DescribeEndpoint for iot:Data-ATS and iot:CredentialProvider',
  builder: (y) => y,
}).runs((_options, ctx) => endpoints(ctx));

export async function endpoints(ctx: Context): Promise<void> {
  const c = makeClients(ctx);
  const data = await call('DescribeEndpoint iot:Data-ATS', () =>
    c.iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' })),
  );
  const cred = await call('DescribeEndpoint iot:CredentialProvider', () =>
    c.iot.send(new DescribeEndpointCommand({ endpointType: 'iot:CredentialProvider' })),
  );
  const region = await c.region();
  ctx.result({ region, iotDataEndpoint: data.endpointAddress, iotCredentialEndpoint: cred.endpointAddress }, [
    `iotDataEndpoint: ${data.endpointAddress}`,
    `iotCredentialEndpoint: ${cred.endpointAddress}`,
  ]);
}
