// Whether the IoT data endpoint the plugin will use is reachable: a TCP connection, or an HTTP CONNECT tunnel
// through the plugin's proxy with its credentials; `run` waits for it (bounded, with backoff), `check` tries once.
import { readFileSync } from 'node:fs';
import { connect, isIP, type Socket } from 'node:net';
import { ConfigError, TransientError } from '../../common/errors.ts';
import type { FleetProvisioningConfig } from '../../common/installer-config.ts';
import { backoffDelay, sleep } from './backoff.ts';
import type { PreflightContext } from './preflight.ts';
import { reportWait, type Wait } from './progress.ts';

export interface Endpoint {
  host: string;
  port: number;
}

export interface ProxySettings {
  url: URL;
  username?: string;
  password?: string;
}

/** The MQTT endpoint the plugin connects to. */
export function endpointOf(fleet: FleetProvisioningConfig): Endpoint {
  return { host: fleet.iotDataEndpoint, port: fleet.mqttPort ?? 8883 };
}

/**
 * The plugin's proxy, if any. The plugin reads its configuration case-insensitively (the docs spell
 * proxyUserName, our schema proxyUsername), so look the credentials up the same way; credentials in
 * the URL's userinfo are the fallback.
 */
export function proxyOf(fleet: FleetProvisioningConfig): ProxySettings | null {
  if (!fleet.proxyUrl) return null;
  let url: URL;
  try {
    url = new URL(fleet.proxyUrl);
  } catch {
    throw new ConfigError('proxyUrl in the installer config is not a URL', 'proxy-url-invalid');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`proxyUrl scheme ${url.protocol} is not supported (http or https)`, 'proxy-url-invalid');
  }
  const get = (name: string): string | undefined => {
    const key = Object.keys(fleet).find((k) => k.toLowerCase() === name.toLowerCase());
    const v = key ? (fleet as unknown as Record<string, unknown>)[key] : undefined;
    return v === undefined || v === null || v === '' ? undefined : String(v);
  };
  const userinfo = (part: string, what: string): string | undefined => {
    if (!part) return undefined;
    try {
      return decodeURIComponent(part);
    } catch {
      // (the value itself is not quoted: it may be a password)
      throw new ConfigError(
        `proxyUrl's ${what} is not valid percent-encoding (write a literal % as %25)`,
        'proxy-url-invalid',
      );
    }
  };
  return {
    url,
    username: get('proxyUsername') ?? userinfo(url.username, 'user name'),
    password: get('proxyPassword') ?? userinfo(url.password, 'password'),
  };
}

function proxyPort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** Where a failure message points: the endpoint, or the proxy in front of it (never its credentials). */
function describe(ep: Endpoint, proxy: ProxySettings | null): string {
  return proxy
    ? `${ep.host}:${ep.port} (through proxy ${proxy.url.hostname}:${proxyPort(proxy.url)})`
    : `${ep.host}:${ep.port}`;
}

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => sock.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

const SYSTEM_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

/** The file's text as a one-element list, or [] if it cannot be read. */
function readOptional(path: string): string[] {
  try {
    return [readFileSync(path, 'utf8')];
  } catch {
    return [];
  }
}

function systemCaBundle(): string[] {
  for (const f of SYSTEM_CA_BUNDLES) {
    const bundle = readOptional(f);
    if (bundle.length > 0) return bundle;
  }
  return [];
}

/** The proxy refused our credentials (HTTP 407): permanent, retrying cannot fix the image's config. */
class ProxyAuthError extends Error {}

/**
 * Ask the proxy for a tunnel to the endpoint (HTTP CONNECT), as the plugin's MQTT client will: this
 * proves the proxy is up, accepts our credentials and reaches the endpoint. Resolves on a 2xx answer.
 */
export function proxyConnectProbe(
  proxy: ProxySettings,
  ep: Endpoint,
  timeoutMs: number,
  extraCa: string[] = [],
): Promise<void> {
  // node:tls is loaded only for an https proxy (start-up is measured; a single executable cannot import()).
  const tls = proxy.url.protocol === 'https:' ? process.getBuiltinModule('node:tls') : null;
  return new Promise((resolve, reject) => {
    const host = proxy.url.hostname.replace(/^\[|\]$/g, '');
    const port = proxyPort(proxy.url);
    // Trust what the OS trusts (a corporate proxy's CA is installed there), Node's own roots, and extraCa.
    const ca = tls ? [...tls.rootCertificates, ...systemCaBundle(), ...extraCa] : [];
    const sock: Socket = tls
      ? tls.connect({ host, port, servername: isIP(host) ? undefined : host, ca })
      : connect({ host, port });
    const timer = setTimeout(() => sock.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.once(proxy.url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      const target = `${ep.host}:${ep.port}`;
      const auth =
        proxy.username !== undefined
          ? `Proxy-Authorization: Basic ${Buffer.from(`${proxy.username}:${proxy.password ?? ''}`).toString('base64')}\r\n`
          : '';
      sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    });
    let head = '';
    sock.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n') && head.length < 8192) return;
      const m = /^HTTP\/1\.[01] (\d{3})([^\r\n]*)/.exec(head);
      if (!m) return done(new Error('the proxy did not answer CONNECT with HTTP'));
      const code = Number(m[1]);
      if (code >= 200 && code < 300) return done();
      if (code === 407) return done(new ProxyAuthError(`the proxy refused the credentials (HTTP 407${m[2]})`));
      done(new Error(`the proxy answered CONNECT with HTTP ${code}${m[2]}`));
    });
    sock.once('error', (err) => done(err));
    sock.once('end', () => done(new Error('the proxy closed the connection without answering CONNECT')));
  });
}

/**
 * Wait, with bounded exponential backoff and full jitter, until the endpoint accepts a TCP connection
 * (directly, or as a CONNECT tunnel through the configured proxy).
 */
export async function waitForEndpoint(ctx: PreflightContext, fleet: FleetProvisioningConfig): Promise<string> {
  const ep = endpointOf(fleet);
  const proxy = proxyOf(fleet);
  // AWS's guidance for an https proxy signed by a private CA: append that CA to the root CA file
  // (rootCaPath), which the nucleus trusts. So does this probe.
  const extraCa = proxy?.url.protocol === 'https:' ? readOptional(fleet.rootCaPath) : [];
  const deadline = Date.now() + ctx.cfg.preflight.networkWaitSeconds * 1000;
  let waiting: Wait | undefined;
  try {
    const what = `the IoT data endpoint ${describe(ep, proxy)}`;
    const startWait = () =>
      (waiting ??= reportWait(ctx.log, what, ctx.cfg.preflight.networkWaitSeconds, ctx.cfg.log.progressSeconds));
    return await endpointLoop(ctx, ep, proxy, extraCa, deadline, startWait);
  } finally {
    waiting?.done();
  }
}

async function endpointLoop(
  ctx: PreflightContext,
  ep: Endpoint,
  proxy: ProxySettings | null,
  extraCa: string[],
  deadline: number,
  started: () => void,
): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (proxy) await proxyConnectProbe(proxy, ep, ctx.cfg.preflight.connectTimeoutMs, extraCa);
      else await tcpProbe(ep.host, ep.port, ctx.cfg.preflight.connectTimeoutMs);
      return `${describe(ep, proxy)} reachable`;
    } catch (err) {
      if (err instanceof ProxyAuthError) {
        throw new ConfigError(
          `the IoT data endpoint ${describe(ep, proxy)}: ${err.message}; fix proxyUsername/proxyPassword in the installer config`,
          'proxy-auth-failed',
        );
      }
      const left = deadline - Date.now();
      if (!ctx.wait || left <= 0) {
        throw new TransientError(
          `the IoT data endpoint ${describe(ep, proxy)} is unreachable (${(err as Error).message})${ctx.wait ? ` after waiting ${ctx.cfg.preflight.networkWaitSeconds} s` : ''}`,
          'endpoint-unreachable',
          { cause: err },
        );
      }
      const delay = Math.min(
        left,
        Math.max(
          100,
          backoffDelay(attempt, { baseMs: Math.min(1000, ctx.cfg.backoff.baseMs), maxMs: ctx.cfg.backoff.maxMs }),
        ),
      );
      ctx.log.warn(
        {
          host: ep.host,
          port: ep.port,
          proxy: proxy ? `${proxy.url.hostname}:${proxyPort(proxy.url)}` : undefined,
          err: (err as Error).message,
          retryInMs: delay,
          attempt: attempt + 1,
          reason: 'endpoint-unreachable',
        },
        `The IoT data endpoint ${describe(ep, proxy)} is unreachable (${(err as Error).message}); retrying in ${(delay / 1000).toFixed(1)} s`,
      );
      started();
      await sleep(delay, ctx.signal);
    }
  }
}
