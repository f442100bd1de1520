// A TLS MQTT 3.1.1 endpoint that answers the fleet-provisioning topics as a test scripts it, for the failures the
// provisioning stand-in does not produce on demand: a RegisterThing /rejected reply with a chosen payload, or the
// connection closed instead of a reply (how throttling may show up). CreateKeysAndCertificate is always accepted,
// with placeholder PEM text (the nucleus stand-in writes it to disk without reading it).
import tls from 'node:tls';
import mqttPacket from 'mqtt-packet';
import { issueCertificate, type KeyPair } from '../standins/pki.ts';

/** What to do with RegisterThing number `n` (1-based, over all connections). */
export type RegisterThingAnswer =
  | { rejected: { statusCode: number; errorCode: string; errorMessage: string } }
  | { accepted: { thingName: string } }
  | 'close';

export interface ScriptedBroker {
  port: number;
  connects: number;
  registerThings: number;
  stop(): Promise<void>;
}

export async function startScriptedBroker(
  ca: KeyPair,
  answer: (n: number) => RegisterThingAnswer,
): Promise<ScriptedBroker> {
  const serverCert = issueCertificate(ca, {
    commonName: 'scripted broker',
    serverAuth: true,
    altNames: { dns: ['localhost'], ip: ['127.0.0.1'] },
  });
  const sockets = new Set<tls.TLSSocket>();
  const state = { connects: 0, registerThings: 0 };
  const server = tls.createServer(
    {
      key: serverCert.privateKeyPem,
      cert: serverCert.certificatePem,
      ca: [ca.certificatePem],
      requestCert: true,
      rejectUnauthorized: true,
    },
    (sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => undefined);
      const send = (p: mqttPacket.Packet) => sock.write(mqttPacket.generate(p));
      const reply = (topic: string, payload: unknown) =>
        send({ cmd: 'publish', topic, payload: JSON.stringify(payload), qos: 0, dup: false, retain: false });
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p) => {
        if (p.cmd === 'connect') {
          state.connects++;
          send({ cmd: 'connack', returnCode: 0, sessionPresent: false });
        } else if (p.cmd === 'subscribe') {
          send({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map(() => 1) });
        } else if (p.cmd === 'publish') {
          if (p.qos === 1) send({ cmd: 'puback', messageId: p.messageId });
          if (p.topic === '$aws/certificates/create/json') {
            reply(`${p.topic}/accepted`, {
              certificateId: 'c0ffee',
              certificatePem: 'placeholder certificate',
              privateKey: 'placeholder key',
              certificateOwnershipToken: 'token',
            });
          } else if (/^\$aws\/provisioning-templates\/[^/]+\/provision\/json$/.test(p.topic)) {
            const a = answer(++state.registerThings);
            if (a === 'close') sock.destroy();
            else if ('rejected' in a) reply(`${p.topic}/rejected`, a.rejected);
            else reply(`${p.topic}/accepted`, { thingName: a.accepted.thingName, deviceConfiguration: {} });
          }
        }
      });
      sock.on('data', (d: Buffer) => parser.parse(d));
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    get connects() {
      return state.connects;
    },
    get registerThings() {
      return state.registerThings;
    },
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
