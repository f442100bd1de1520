// An HTTP(S) CONNECT proxy STAND-IN for tests: optional Basic credentials (407 otherwise), tunnels to the
// requested host:port (502 when that is down), and records every CONNECT it was asked for.
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect, type Socket } from 'node:net';

export interface ConnectProxy {
  port: number;
  requests: Array<{ target: string; authorization: string | undefined }>;
  close(): Promise<void>;
}

export async function startConnectProxy(
  opts: { username?: string; password?: string; tls?: { key: string; cert: string } } = {},
): Promise<ConnectProxy> {
  const requests: ConnectProxy['requests'] = [];
  const sockets = new Set<Socket>();
  const reject405 = (_req: IncomingMessage, res: import('node:http').ServerResponse) => res.writeHead(405).end();
  const server = opts.tls ? createTlsServer(opts.tls, reject405) : createServer(reject405);
  server.on('connect', (req: IncomingMessage, client: Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const target = req.url ?? '';
    const authorization = req.headers['proxy-authorization'];
    requests.push({ target, authorization });
    if (opts.username !== undefined) {
      const expected = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
      if (authorization !== expected) {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="stand-in"\r\n\r\n');
        return;
      }
    }
    const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
    const upstream = connect({ host, port });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
