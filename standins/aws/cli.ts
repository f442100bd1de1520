// CLI for the AWS wire STAND-IN (offline pipeline). Prints "listening http://127.0.0.1:PORT" when ready;
// stops on SIGTERM/SIGINT (state already persisted after every change).
//   tsx standins/aws/cli.ts --port N --ca-dir DIR [--state FILE] [--host 127.0.0.1]
//       [--iot-data-endpoint HOST] [--iot-cred-endpoint HOST] [--region us-east-1]
//       [--policy NAME[=FILE]]... [--throttle OP=N]... [--fail OP=STATUS[xN]]... [--latency OP=MS]...
// Faults and latency can also be set at run time: POST /__standin/faults {op, kind: throttle|error,
// status?, code?, count?}, POST /__standin/latency {op, ms}; GET /__standin/requests lists what
// the server received (secret values redacted).
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { loadOrCreateCa } from '../pki.ts';
import { startAwsStandin } from './server.ts';
import { emptyState, loadState, saveState, nowSeconds, ACCOUNT_ID } from './state.ts';
import { ExitCode } from '../../common/errors.ts';

function usage(msg: string): never {
  process.stderr.write(`aws stand-in: ${msg}\n`);
  process.exit(ExitCode.USAGE);
}

function pairs(list: string[] | undefined, what: string): [string, string][] {
  return (list ?? []).map((s) => {
    const i = s.indexOf('=');
    if (i <= 0) usage(`${what} must be OP=VALUE, got ${JSON.stringify(s)}`);
    return [s.slice(0, i), s.slice(i + 1)];
  });
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '0' },
        host: { type: 'string', default: '127.0.0.1' },
        'ca-dir': { type: 'string' },
        state: { type: 'string' },
        'iot-data-endpoint': { type: 'string' },
        'iot-cred-endpoint': { type: 'string' },
        region: { type: 'string' },
        policy: { type: 'string', multiple: true },
        throttle: { type: 'string', multiple: true },
        fail: { type: 'string', multiple: true },
        latency: { type: 'string', multiple: true },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (!values['ca-dir']) usage('--ca-dir DIR is required');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port must be a port number, got ${values.port}`);
  const endpoints = {
    iotDataEndpoint: values['iot-data-endpoint'],
    iotCredEndpoint: values['iot-cred-endpoint'],
    region: values.region,
  };
  const state = values.state ? loadState(values.state, endpoints) : emptyState(endpoints);
  for (const spec of values.policy ?? []) {
    const [name, file] = spec.includes('=')
      ? [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)]
      : [spec, ''];
    const doc = file
      ? readFileSync(file, 'utf8')
      : JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }],
        });
    const now = nowSeconds();
    state.policies[name] ??= {
      policyName: name,
      policyArn: `arn:aws:iot:${state.region}:${ACCOUNT_ID}:policy/${name}`,
      policyDocument: doc,
      defaultVersionId: '1',
      creationDate: now,
      lastModifiedDate: now,
    };
  }
  if (values.state) saveState(values.state, state);
  const standin = await startAwsStandin({
    ca: loadOrCreateCa(values['ca-dir']),
    host: values.host,
    port,
    state,
    stateFile: values.state,
  });
  for (const [op, n] of pairs(values.throttle, '--throttle')) standin.throttle(op, Number(n));
  for (const [op, v] of pairs(values.fail, '--fail')) {
    const m = /^(\d{3})(?:x(\d+))?$/.exec(v) ?? usage(`--fail must be OP=STATUS[xCOUNT], got ${op}=${v}`);
    standin.failWith(op, Number(m[1]), Number(m[2] ?? 1));
  }
  for (const [op, ms] of pairs(values.latency, '--latency')) standin.setLatency(op, Number(ms));
  process.stdout.write(`listening ${standin.url}\n`);
  const stop = () => {
    void standin.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

await main();
