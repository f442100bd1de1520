// The MQTT side of the provisioning STAND-IN: a minimal broker over TLS with client certificates (mTLS) that speaks
// MQTT 3.1.1 and MQTT 5, as AWS IoT Core accepts both (docs/facts/provisioning-mqtt.md). mqtt-packet only encodes and
// decodes packets; sessions, subscriptions and delivery are here. What a publish means is the caller's business:
// `onPublish` sees every PUBLISH after it was acknowledged, and `reply` answers one connection only.
// Flow per connection: TLS handshake (CA-signed client certificate) -> CONNECT (version check, `admitConnect`) ->
// SUBSCRIBE/PUBLISH/UNSUBSCRIBE/PINGREQ -> DISCONNECT or close.
import tls from 'node:tls';
import { X509Certificate, randomUUID } from 'node:crypto';
import mqttPacket from 'mqtt-packet';
import type { Packet, IPublishPacket, ISubscribePacket, IConnectPacket } from 'mqtt-packet';
import type { IotAction } from './policy.ts';

export type MqttVersion = 4 | 5;

export interface Conn {
  id: number;
  socket: tls.TLSSocket;
  clientId?: string;
  connected: boolean;
  version: MqttVersion;
  /** SHA-256 fingerprint of the client certificate, colon-separated upper-case hex as node:tls gives it. */
  peerFingerprint: string;
  subscriptions: string[];
}

/** Why a CONNECT is refused: MQTT 3.1.1 return code 5 / MQTT 5 reason 0x87, both "not authorized". */
export interface Refusal {
  reason: string;
}

export interface BrokerOptions {
  host: string;
  port: number;
  key: string;
  cert: string;
  ca: string;
  /** Return a refusal to answer CONNACK "not authorized" and close. */
  admitConnect(conn: Conn): Refusal | null;
  onPublish(conn: Conn, topic: string, payload: Buffer): void;
  record(event: Record<string, unknown>): void;
  /**
   * IoT policy check (policy.ts) for a connected client: Connect on its client ID, Subscribe on each filter,
   * Publish and Receive on each topic. Not given: everything is allowed.
   */
  authorize?(conn: Conn, action: IotAction, name: string): boolean;
}

export interface Broker {
  port: number;
  /** Deliver to `conn` only, and only if it subscribed to a matching filter (AWS IoT semantics for reply topics). */
  reply(conn: Conn, topic: string, body: unknown): boolean;
  /** Plain broker behaviour: deliver to every connected subscriber whose filter matches. */
  fanOut(topic: string, payload: Buffer): void;
  close(): Promise<void>;
}

/** MQTT topic filter match (+ and #); `$` topics are not matched by a leading wildcard (3.1.1 §4.7.2, 5.0 §4.7.2). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

const NOT_AUTHORIZED = { 4: 5, 5: 0x87 } as const;
const SESSION_TAKEN_OVER = 0x8e;
const SUBSCRIBE_REFUSED = { 4: 0x80, 5: 0x87 } as const;

export async function startBroker(o: BrokerOptions): Promise<Broker> {
  const allowed = (conn: Conn, action: IotAction, name: string): boolean =>
    !o.authorize || o.authorize(conn, action, name);
  const conns = new Set<Conn>();
  let nextConnId = 1;

  const send = (conn: Conn, packet: Packet): void => {
    if (conn.socket.destroyed || !conn.socket.writable) return;
    conn.socket.write(mqttPacket.generate(packet, { protocolVersion: conn.version }));
  };

  const refuse = (conn: Conn, v: MqttVersion, code: number): void => {
    conn.version = v;
    send(
      conn,
      v === 5
        ? { cmd: 'connack', reasonCode: code, sessionPresent: false }
        : { cmd: 'connack', returnCode: code, sessionPresent: false },
    );
    conn.socket.end();
  };

  const onConnect = (conn: Conn, p: IConnectPacket, parser: ReturnType<typeof mqttPacket.parser>): void => {
    if (p.protocolVersion !== 4 && p.protocolVersion !== 5) {
      refuse(conn, 4, 1); // 3.1.1: "unacceptable protocol version"; MQTT 3.1 clients read the same code
      return;
    }
    const v: MqttVersion = p.protocolVersion;
    conn.version = v;
    // The packets after CONNECT carry MQTT 5 properties; the parser reads its settings per packet.
    if (v === 5) (parser as unknown as { settings: { protocolVersion: number } }).settings.protocolVersion = 5;
    const refusal = o.admitConnect(conn);
    if (refusal) {
      o.record({ event: 'refused', reason: refusal.reason, peerFingerprint: conn.peerFingerprint, protocolVersion: v });
      refuse(conn, v, NOT_AUTHORIZED[v]);
      return;
    }
    const assigned = !p.clientId;
    const clientId = p.clientId || `standin-${randomUUID()}`;
    conn.clientId = clientId;
    if (!allowed(conn, 'iot:Connect', clientId)) {
      o.record({
        event: 'refused',
        reason: 'policy denies iot:Connect',
        clientId,
        peerFingerprint: conn.peerFingerprint,
      });
      refuse(conn, v, NOT_AUTHORIZED[v]);
      return;
    }
    // AWS IoT disconnects the existing connection when another connects with the same client ID.
    for (const other of conns) {
      if (other !== conn && other.connected && other.clientId === clientId) {
        o.record({ event: 'duplicate-client-id', clientId });
        if (other.version === 5) send(other, { cmd: 'disconnect', reasonCode: SESSION_TAKEN_OVER });
        other.socket.destroy();
      }
    }
    conn.clientId = clientId;
    conn.connected = true;
    o.record({ event: 'connect', clientId, peerFingerprint: conn.peerFingerprint, protocolVersion: v });
    if (v === 5) {
      // No retained messages, no shared subscriptions, no topic aliases: what this stand-in does not implement
      // is announced so an MQTT 5 client does not try it. QoS 2 is not offered (AWS IoT Core supports QoS 0 and 1).
      send(conn, {
        cmd: 'connack',
        reasonCode: 0,
        sessionPresent: false,
        properties: {
          maximumQoS: 1,
          retainAvailable: false,
          sharedSubscriptionAvailable: false,
          ...(assigned ? { assignedClientIdentifier: clientId } : {}),
        },
      });
    } else {
      send(conn, { cmd: 'connack', returnCode: 0, sessionPresent: false });
    }
  };

  const onSubscribe = (conn: Conn, p: ISubscribePacket): void => {
    const granted: number[] = [];
    for (const s of p.subscriptions) {
      if (!allowed(conn, 'iot:Subscribe', s.topic)) {
        o.record({ event: 'denied', action: 'iot:Subscribe', name: s.topic, clientId: conn.clientId });
        granted.push(SUBSCRIBE_REFUSED[conn.version]);
        continue;
      }
      if (!conn.subscriptions.includes(s.topic)) conn.subscriptions.push(s.topic);
      granted.push(Math.min(s.qos, 1)); // for MQTT 5 these are the reason codes 0x00/0x01 "granted QoS"
    }
    send(conn, { cmd: 'suback', messageId: p.messageId as number, granted });
  };

  const onPublish = (conn: Conn, p: IPublishPacket): void => {
    if (!allowed(conn, 'iot:Publish', p.topic)) {
      // AWS IoT Core closes the connection of a client that publishes where its policy does not allow.
      o.record({ event: 'denied', action: 'iot:Publish', name: p.topic, clientId: conn.clientId });
      if (conn.version === 5) send(conn, { cmd: 'disconnect', reasonCode: NOT_AUTHORIZED[5] });
      conn.socket.destroy();
      return;
    }
    if (p.qos === 1 && p.messageId !== undefined) send(conn, { cmd: 'puback', messageId: p.messageId });
    if (p.qos === 2 && p.messageId !== undefined) send(conn, { cmd: 'pubrec', messageId: p.messageId });
    o.onPublish(conn, p.topic, Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload));
  };

  const dispatch = (conn: Conn, packet: Packet, parser: ReturnType<typeof mqttPacket.parser>): void => {
    if (!conn.connected && packet.cmd !== 'connect') {
      conn.socket.destroy(); // MQTT: the first packet must be CONNECT
      return;
    }
    switch (packet.cmd) {
      case 'connect':
        if (conn.connected)
          conn.socket.destroy(); // a second CONNECT is a protocol violation
        else onConnect(conn, packet, parser);
        break;
      case 'publish':
        onPublish(conn, packet);
        break;
      case 'subscribe':
        onSubscribe(conn, packet);
        break;
      case 'unsubscribe':
        conn.subscriptions = conn.subscriptions.filter((f) => !packet.unsubscriptions.includes(f));
        send(conn, {
          cmd: 'unsuback',
          messageId: packet.messageId as number,
          ...(conn.version === 5 ? { granted: packet.unsubscriptions.map(() => 0) } : {}),
        } as Packet);
        break;
      case 'pubrel':
        send(conn, { cmd: 'pubcomp', messageId: packet.messageId as number });
        break;
      case 'pingreq':
        send(conn, { cmd: 'pingresp' });
        break;
      case 'disconnect':
        conn.socket.end();
        break;
      default:
        break; // PUBACK etc. for QoS 0 deliveries never come
    }
  };

  // The CA certificate itself is not a client identity, even though it chains to itself.
  const caFingerprint = new X509Certificate(o.ca).fingerprint256;
  const server = tls.createServer({
    key: o.key,
    cert: o.cert,
    ca: [o.ca],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  });
  server.on('tlsClientError', (err) => o.record({ event: 'tls-refused', reason: err.message }));
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const peer = socket.getPeerCertificate();
    const conn: Conn = {
      id: nextConnId++,
      socket,
      connected: false,
      version: 4,
      peerFingerprint: peer && peer.fingerprint256 ? peer.fingerprint256 : '',
      subscriptions: [],
    };
    if (!socket.authorized || !conn.peerFingerprint || conn.peerFingerprint === caFingerprint) {
      socket.destroy();
      return;
    }
    conns.add(conn);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (packet: Packet) => {
      try {
        dispatch(conn, packet, parser);
      } catch (err) {
        o.record({ event: 'internal-error', message: (err as Error).message });
        socket.destroy();
      }
    });
    parser.on('error', () => socket.destroy());
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('error', () => undefined);
    socket.on('close', () => conns.delete(conn));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : o.port,
    reply(conn, topic, body) {
      if (!conn.subscriptions.some((f) => topicMatches(f, topic))) return false;
      if (!allowed(conn, 'iot:Receive', topic)) return false;
      send(conn, {
        cmd: 'publish',
        topic,
        payload: Buffer.from(JSON.stringify(body)),
        qos: 0,
        retain: false,
        dup: false,
      });
      return true;
    },
    fanOut(topic, payload) {
      for (const c of conns) {
        if (c.connected && c.subscriptions.some((f) => topicMatches(f, topic)) && allowed(c, 'iot:Receive', topic)) {
          send(c, { cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false });
        }
      }
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of conns) c.socket.destroy();
      conns.clear();
      await closed;
    },
  };
}
