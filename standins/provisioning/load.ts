// Load check for the provisioning STAND-IN: N simulated devices (real `mqtt` client over mTLS, one claim
// certificate shared like a golden image's) each run CreateKeysAndCertificate + RegisterThing.
// Prints one JSON line of numbers. Starts its own stand-in unless --port is given (then --ca-dir must be
// the running stand-in's CA dir and --template its template).
//   tsx standins/provisioning/load.ts [--devices 50] [--concurrency 10] [--rate N] [--port P --ca-dir DIR --template NAME] [--host H]
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { createCa, issueCertificate, loadOrCreateCa, type KeyPair } from '../pki.ts';
import { startProvisioningStandin, CREATE_TOPIC, provisionTopic, type ProvisioningStandin } from './server.ts';
import { ExitCode } from '../../common/errors.ts';

interface Answer {
  outcome: 'accepted' | 'rejected';
  body: Record<string, unknown>;
}

function connect(host: string, port: number, ca: string, id: KeyPair): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtts://${host}:${port}`, {
      key: id.privateKeyPem,
      cert: id.certificatePem,
      ca,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

async function request(c: MqttClient, topic: string, body: unknown): Promise<Answer> {
  await c.subscribeAsync([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer on ${topic} within 30 s`)), 30_000);
    const onMsg = (tp: string, payload: Buffer) => {
      if (tp !== `${topic}/accepted` && tp !== `${topic}/rejected`) return;
      clearTimeout(timer);
      c.off('message', onMsg);
      resolve({
        outcome: tp.endsWith('/accepted') ? 'accepted' : 'rejected',
        body: JSON.parse(payload.toString()) as Record<string, unknown>,
      });
    };
    c.on('message', onMsg);
    c.publish(topic, JSON.stringify(body), { qos: 1 });
  });
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '50' },
      concurrency: { type: 'string', default: '10' },
      rate: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'ca-dir': { type: 'string' },
      template: { type: 'string', default: 'LoadTemplate' },
    },
    strict: true,
  });
  const devices = Number(values.devices);
  const concurrency = Number(values.concurrency);
  if (!(Number.isInteger(devices) && devices > 0) || !(Number.isInteger(concurrency) && concurrency > 0)) {
    process.stderr.write('load: --devices and --concurrency must be positive integers\n');
    process.exit(ExitCode.USAGE);
  }
  if (values.port && !values['ca-dir']) {
    process.stderr.write('load: --port needs --ca-dir (the running stand-in CA)\n');
    process.exit(ExitCode.USAGE);
  }
  const ca = values['ca-dir'] ? loadOrCreateCa(values['ca-dir']) : createCa();
  let standin: ProvisioningStandin | undefined;
  let port = Number(values.port);
  if (!values.port) {
    standin = await startProvisioningStandin({
      ca,
      templateName: values.template as string,
      ...(values.rate ? { ratePerSecond: Number(values.rate) } : {}),
    });
    port = standin.port;
  }
  const claim = issueCertificate(ca, { commonName: 'load claim' });
  const latencies: number[] = [];
  const rejected: Record<string, number> = {};
  let next = 0;
  const runId = Date.now().toString(36);
  const t0 = Date.now();
  const worker = async () => {
    while (next < devices) {
      const i = next++;
      const start = Date.now();
      let c: MqttClient | undefined;
      try {
        c = await connect(values.host as string, port, ca.certificatePem, claim);
        const created = await request(c, CREATE_TOPIC, {});
        if (created.outcome === 'rejected') {
          rejected[String(created.body.errorCode)] = (rejected[String(created.body.errorCode)] ?? 0) + 1;
          continue;
        }
        const reg = await request(c, provisionTopic(values.template as string), {
          certificateOwnershipToken: created.body.certificateOwnershipToken,
          parameters: { ThingName: `load-${runId}-${i}` },
        });
        if (reg.outcome === 'rejected')
          rejected[String(reg.body.errorCode)] = (rejected[String(reg.body.errorCode)] ?? 0) + 1;
        else latencies.push(Date.now() - start);
      } catch (err) {
        rejected[`client-error: ${(err as Error).message}`] =
          (rejected[`client-error: ${(err as Error).message}`] ?? 0) + 1;
      } finally {
        c?.end(true);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (Date.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const result = {
    devices,
    concurrency,
    registered: latencies.length,
    seconds: Number(seconds.toFixed(2)),
    registrationsPerSecond: Number((latencies.length / seconds).toFixed(1)),
    latencyMs: { p50: pct(latencies, 50), p95: pct(latencies, 95), max: latencies.at(-1) ?? 0 },
    rejected,
    ...(standin ? { takeovers: standin.takeovers.length, certificatesIssued: standin.certificatesIssued } : {}),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await standin?.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`load: ${(err as Error).message}\n`);
  process.exit(ExitCode.INTERNAL);
});
