// Drivers for the AWS IoT Device SDK v2 (npm aws-iot-device-sdk-v2, AWS's own code with its native CRT) against the
// provisioning stand-in: the MQTT 3.1.1 connection + IotIdentityClient of the SDK's older fleet-provisioning sample,
// and the MQTT 5 client + IotIdentityClientv2 of its current one. Used by test/standins/device-sdk*.test.ts.
import { once } from 'node:events';
import v8 from 'node:v8';
import vm from 'node:vm';
import { io, iot, mqtt, mqtt5, iotidentity } from 'aws-iot-device-sdk-v2';
import type { KeyPair } from '../../standins/pki.ts';

export interface Endpoint {
  port: number;
  ca: string;
}

const bootstrap = new io.ClientBootstrap();

/** MQTT 3.1.1 over mTLS as the SDK builds it for IoT Core; rejects when the broker refuses the CONNECT. */
export async function connect311(at: Endpoint, id: KeyPair, clientId: string): Promise<mqtt.MqttClientConnection> {
  const b = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(id.certificatePem, id.privateKeyPem);
  b.with_certificate_authority(at.ca).with_endpoint('localhost').with_port(at.port).with_client_id(clientId);
  b.with_clean_session(true).with_ping_timeout_ms(3000);
  const conn = new mqtt.MqttClient(bootstrap).new_connection(b.build());
  conn.on('error', () => undefined); // a refused CONNECT is reported through connect()'s rejection
  try {
    await conn.connect();
  } catch (err) {
    await conn.disconnect().catch(() => undefined);
    throw err;
  }
  return conn;
}

/** MQTT 5 over mTLS; resolves when connected, rejects with the CONNACK reason code of the first failed attempt. */
export async function connect5(at: Endpoint, id: KeyPair, clientId: string): Promise<mqtt5.Mqtt5Client> {
  const b = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(
    'localhost',
    id.certificatePem,
    id.privateKeyPem,
  );
  b.withCertificateAuthority(at.ca).withPort(at.port).withConnectProperties({ keepAliveIntervalSeconds: 7, clientId });
  const client = new mqtt5.Mqtt5Client(b.build());
  const outcome = Promise.race([
    once(client, 'connectionSuccess').then(() => null),
    once(client, 'connectionFailure').then((args) => args[0] as mqtt5.ConnectionFailureEvent),
  ]);
  client.start();
  const failed = await outcome;
  if (failed) {
    await stop5(client);
    const err = new Error(`MQTT 5 connect failed: ${failed.error.toString()}`) as Error & { reasonCode?: number };
    if (failed.connack) err.reasonCode = failed.connack.reasonCode;
    throw err;
  }
  return client;
}

export async function stop5(client: mqtt5.Mqtt5Client): Promise<void> {
  const stopped = once(client, 'stopped');
  client.stop();
  await stopped;
  client.close();
}

/**
 * The CRT's MQTT 5 client keeps the process alive after stop() and close() until its JS object is garbage
 * collected (measured: the test process lingered 60-80 s after its last test; with a forced GC it exits at once).
 * Call this when every client is closed and out of reach.
 */
export function collectClosedClients(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
}

export interface ErrorResponse {
  statusCode?: number;
  errorCode?: string;
  errorMessage?: string;
}
export type Outcome<T> = { accepted: T } | { rejected: ErrorResponse };

/**
 * One request with the MQTT 3.1.1 IotIdentityClient, as the SDK's older sample runs it: subscribe to accepted and
 * rejected (QoS 1), publish (QoS 1), take the first answer.
 */
async function call311<T>(
  subscribe: (
    onAccepted: (e?: Error, r?: T) => void,
    onRejected: (e?: Error, r?: ErrorResponse) => void,
  ) => Promise<unknown>,
  publish: () => Promise<unknown>,
): Promise<Outcome<T>> {
  let settle!: (o: Outcome<T>) => void;
  let fail!: (e: Error) => void;
  const answer = new Promise<Outcome<T>>((res, rej) => {
    settle = res;
    fail = rej;
  });
  await subscribe(
    (e, r) => (e ? fail(e) : settle({ accepted: r as T })),
    (e, r) => (e ? fail(e) : settle({ rejected: r ?? {} })),
  );
  await publish();
  const timer = new Promise<never>((_, rej) =>
    setTimeout(() => rej(new Error('no answer within 10 s')), 10_000).unref(),
  );
  return Promise.race([answer, timer]);
}

export function identity311(conn: mqtt.MqttClientConnection) {
  const c = new iotidentity.IotIdentityClient(conn);
  const q = mqtt.QoS.AtLeastOnce;
  return {
    createKeysAndCertificate: () =>
      call311<iotidentity.model.CreateKeysAndCertificateResponse>(
        async (ok, no) => {
          await c.subscribeToCreateKeysAndCertificateAccepted({}, q, ok);
          await c.subscribeToCreateKeysAndCertificateRejected({}, q, no);
        },
        () => c.publishCreateKeysAndCertificate({}, q),
      ),
    createCertificateFromCsr: (certificateSigningRequest: string) =>
      call311<iotidentity.model.CreateCertificateFromCsrResponse>(
        async (ok, no) => {
          await c.subscribeToCreateCertificateFromCsrAccepted({}, q, ok);
          await c.subscribeToCreateCertificateFromCsrRejected({}, q, no);
        },
        () => c.publishCreateCertificateFromCsr({ certificateSigningRequest }, q),
      ),
    registerThing: (templateName: string, certificateOwnershipToken: string, parameters?: Record<string, string>) =>
      call311<iotidentity.model.RegisterThingResponse>(
        async (ok, no) => {
          await c.subscribeToRegisterThingAccepted({ templateName }, q, ok);
          await c.subscribeToRegisterThingRejected({ templateName }, q, no);
        },
        () =>
          c.publishRegisterThing({ templateName, certificateOwnershipToken, ...(parameters ? { parameters } : {}) }, q),
      ),
  };
}

/** The MQTT 5 request-response client of the SDK's current sample; a rejected reply is its ServiceError. */
export function identity5(client: mqtt5.Mqtt5Client) {
  const c = iotidentity.IotIdentityClientv2.newFromMqtt5(client, {
    maxRequestResponseSubscriptions: 4,
    maxStreamingSubscriptions: 2,
    operationTimeoutInSeconds: 10,
  });
  const wrap = async <T>(p: Promise<T>): Promise<Outcome<T>> => {
    try {
      return { accepted: await p };
    } catch (err) {
      const modeled = (err as { modeledError?: ErrorResponse }).modeledError;
      if (modeled) return { rejected: modeled };
      throw err;
    }
  };
  return {
    createKeysAndCertificate: () => wrap(c.createKeysAndCertificate({})),
    createCertificateFromCsr: (certificateSigningRequest: string) =>
      wrap(c.createCertificateFromCsr({ certificateSigningRequest })),
    registerThing: (templateName: string, certificateOwnershipToken: string, parameters?: Record<string, string>) =>
      wrap(c.registerThing({ templateName, certificateOwnershipToken, ...(parameters ? { parameters } : {}) })),
    close: () => c.close(),
  };
}

export function accepted<T>(o: Outcome<T>): T {
  if ('accepted' in o) return o.accepted;
  throw new Error(`expected an accepted reply, got rejected ${JSON.stringify(o.rejected)}`);
}
export function rejected<T>(o: Outcome<T>): ErrorResponse {
  if ('rejected' in o) return o.rejected;
  throw new Error(`expected a rejected reply, got accepted ${JSON.stringify(o.accepted).slice(0, 200)}`);
}
