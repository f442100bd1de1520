// A device's side of the fleet-provisioning MQTT API for tests, on the `mqtt` client: mTLS connect with a claim or
// device certificate, and the request/reply pattern of the API (subscribe to accepted and rejected, then publish).
import mqtt, { type MqttClient } from 'mqtt';

export interface TlsIdentity {
  certificatePem: string;
  privateKeyPem: string;
}

export interface ConnectOptions {
  /** The CA the device trusts for the server certificate. */
  trust: string;
  clientId?: string;
}

/** Connects over TLS with `id` as client certificate (none: no client certificate); rejects on any failure. */
export function connectDevice(
  s: { host: string; port: number },
  id: TlsIdentity | null,
  o: ConnectOptions,
): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtts://${s.host}:${s.port}`, {
      ...(id ? { key: id.privateKeyPem, cert: id.certificatePem } : {}),
      ...(o.clientId ? { clientId: o.clientId } : {}),
      ca: o.trust,
      rejectUnauthorized: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      clean: true,
    });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export interface Reply {
  outcome: 'accepted' | 'rejected';
  // The API's JSON reply: its fields differ per topic and outcome.
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Subscribes to `<topic>/accepted` and `/rejected`, publishes `body`, resolves with whichever answers first. */
export async function request(c: MqttClient, topic: string, body: unknown, timeoutMs = 15_000): Promise<Reply> {
  await c.subscribeAsync([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer on ${topic}`)), timeoutMs);
    const onMsg = (tp: string, payload: Buffer) => {
      if (tp !== `${topic}/accepted` && tp !== `${topic}/rejected`) return;
      clearTimeout(timer);
      c.off('message', onMsg);
      resolve({ outcome: tp.endsWith('/accepted') ? 'accepted' : 'rejected', body: JSON.parse(payload.toString()) });
    };
    c.on('message', onMsg);
    c.publish(topic, body === undefined ? '' : JSON.stringify(body), { qos: 1 });
  });
}
