// The builder's own HTTPS (artifact and root CA downloads, AWS SDK calls) through the proxy named by
// HTTPS_PROXY / https_proxy, except for hosts NO_PROXY / no_proxy lists. Node's https module and its fetch
// ignore these variables, so an HTTPS agent here opens an HTTP CONNECT tunnel to the proxy (Basic credentials
// from the proxy URL's userinfo) and runs TLS to the real host inside it. Plain http:// URLs (a local mirror,
// a stand-in endpoint) are fetched directly.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';

type Env = Record<string, string | undefined>;

/** NO_PROXY: comma or space separated; `*` is every host; `example.com` and `.example.com` cover subdomains. */
export function bypassesProxy(host: string, port: number, env: Env = process.env): boolean {
  const list = (env.NO_PROXY ?? env.no_proxy ?? '').split(/[\s,]+/).filter(Boolean);
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return list.some((raw) => {
    if (raw === '*') return true;
    const m = /^(.*?)(?::(\d+))?$/.exec(raw.toLowerCase())!;
    if (m[2] !== undefined && Number(m[2]) !== port) return false;
    const entry = m[1].replace(/^\*?\./, '').replace(/^\[|\]$/g, '');
    return h === entry || h.endsWith(`.${entry}`);
  });
}

/** The proxy for an https:// target, or undefined for a direct connection. */
export function httpsProxyFor(host: string, port: number, env: Env = process.env): URL | undefined {
  const raw = env.HTTPS_PROXY ?? env.https_proxy;
  if (!raw || bypassesProxy(host, port, env)) return undefined;
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new Error(`HTTPS_PROXY ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`HTTPS_PROXY scheme ${url.protocol} is not supported (http or https)`);
  }
  return url;
}

/** Open a CONNECT tunnel to host:port through `proxy`; resolves with the raw tunnel socket. */
export function openTunnel(proxy: URL, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const proxyPort = Number(proxy.port) || (proxy.protocol === 'https:' ? 443 : 80);
    const at = { host: proxy.hostname, port: proxyPort };
    const sock: Socket =
      proxy.protocol === 'https:' ? tlsConnect({ ...at, servername: proxy.hostname }) : netConnect(at);
    const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    const auth = proxy.username ? `Proxy-Authorization: Basic ${Buffer.from(credentials).toString('base64')}\r\n` : '';
    let head = Buffer.alloc(0);
    const fail = (err: Error) => {
      sock.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      sock.off('error', fail);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1];
      if (status !== '200') {
        return fail(new Error(`proxy ${proxy.host} refused CONNECT ${target}: HTTP ${status ?? '(no status)'}`));
      }
      const rest = head.subarray(end + 4);
      if (rest.length > 0) sock.unshift(rest);
      resolve(sock);
    };
    sock.on('data', onData);
    sock.once('error', fail);
    sock.once(proxy.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    });
  });
}

/** An https.Agent that tunnels through HTTPS_PROXY unless NO_PROXY lists the host (decided per connection). */
export class EnvProxyAgent extends HttpsAgent {
  constructor(
    private readonly env: Env = process.env,
    opts: AgentOptions = { keepAlive: true, maxSockets: 50 },
  ) {
    super(opts);
  }

  override createConnection(
    options: RequestOptions,
    cb?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = options.host ?? options.hostname ?? 'localhost';
    const port = Number(options.port ?? 443);
    const failed = (err: Error) => (cb as unknown as (e: Error) => void)?.(err);
    let proxy: URL | undefined;
    try {
      proxy = httpsProxyFor(host, port, this.env);
    } catch (err) {
      failed(err as Error);
      return undefined;
    }
    if (!proxy) return super.createConnection(options, cb);
    openTunnel(proxy, host, port).then((tunnel) => {
      const tlsIn = options as ConnectionOptions;
      const tlsOptions = { ...tlsIn, socket: tunnel as Socket, servername: tlsIn.servername ?? host };
      const secure = tlsConnect(tlsOptions);
      secure.once('error', failed);
      secure.once('secureConnect', () => {
        secure.off('error', failed);
        cb?.(null, secure);
      });
    }, failed);
    return undefined;
  }
}

let shared: EnvProxyAgent | undefined;
/** One agent for the process (the AWS SDK's clients and the downloads share its connections). */
export function proxyAgent(): EnvProxyAgent {
  return (shared ??= new EnvProxyAgent());
}

/** GET `url` (https through the proxy when the environment names one), following up to 5 redirects. */
/** GET with redirects followed; https through the environment's proxy. The body is left unread. */
export async function openGet(url: string, redirects = 5): Promise<IncomingMessage> {
  const u = new URL(url);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = u.protocol === 'https:' ? httpsRequest(u, { agent: proxyAgent() }, resolve) : httpRequest(u, resolve);
    req.once('error', reject);
    req.setTimeout(120_000, () => req.destroy(new Error(`no answer from ${u.host} in 120 s`)));
    req.end();
  });
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
    res.resume();
    return openGet(new URL(res.headers.location, u).toString(), redirects - 1);
  }
  return res;
}

export async function httpGet(url: string, redirects = 5): Promise<{ status: number; body: Buffer; url: string }> {
  const res = await openGet(url, redirects);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return { status: res.statusCode ?? 0, body: Buffer.concat(chunks), url };
}
