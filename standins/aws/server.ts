// AWS wire STAND-IN: one local HTTP server the real @aws-sdk v3 clients talk to through `endpoint`
// or AWS_ENDPOINT_URL*. Dispatches to one module per service:
//   Secrets Manager awsJson1.1 (POST /, routed on x-amz-target)       -> secretsmanager.ts
//   Greengrass v2 restJson1 (paths under /greengrass/v2/)             -> greengrassv2.ts
//   IoT control plane restJson1 (method + path)                      -> iot.ts
// Records every request, can delay or fail any operation (fault queue), and has a control API under
// /__standin/ for the CLI mode. The AWS behaviour it follows, with sources: docs/facts/aws-wire.md.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyPair } from '../pki.ts';
import { emptyState, saveState, type EndpointOptions, type StandinState } from './state.ts';
import { coreStatusReport, provisionedThing, recordCoreStatus, recordProvisioning } from './account-feed.ts';
import * as secretsmanager from './secretsmanager.ts';
import * as iot from './iot.ts';
import * as greengrassv2 from './greengrassv2.ts';
import * as iotFleet from './iot-fleet.ts';
import * as iotLists from './iot-lists.ts';
import * as iotPolicies from './iot-policies.ts';

export type ServiceName = 'secretsmanager' | 'iot' | 'greengrassv2';

/** A parsed request as the service handlers see it. */
export interface ServiceRequest {
  method: string;
  path: string; // decoded-per-segment by the router; raw here
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Region from the SigV4 credential scope, else the state's default. */
  region: string;
}

export interface ServiceResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface HandlerContext {
  state: StandinState;
  ca: KeyPair;
  /** Called after every state change (CLI mode persists). */
  changed(): void;
}

/** A modelled AWS error: the routers render it in their protocol's error shape. */
export class AwsServiceError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A restJson1 request body as a JSON object; anything else is the service's 400 with `code`. */
export function jsonBody(req: ServiceRequest, code: string): Record<string, unknown> {
  if (!req.body) return {};
  try {
    const v = JSON.parse(req.body) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new AwsServiceError(code, 400, 'Request body is not a JSON object');
}

export interface Route {
  service: ServiceName;
  op: string;
  handle(req: ServiceRequest, ctx: HandlerContext): ServiceResponse | Promise<ServiceResponse>;
}

export interface RecordedRequest {
  seq: number;
  service: ServiceName | 'unknown';
  op: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body when it is JSON, else the raw text ('' for none). */
  body: unknown;
  status: number;
  at: number;
}

export interface Fault {
  /** 'throttle' renders the service's own throttling error (IoT 400, Greengrass v2 429 + Retry-After, Secrets Manager 400). */
  kind: 'throttle' | 'error';
  status?: number;
  code?: string;
  message?: string;
  retryAfterSeconds?: number;
}

export interface AwsStandinOptions {
  ca: KeyPair;
  host?: string;
  port?: number;
  state?: StandinState;
  endpoints?: EndpointOptions;
  /** Persist the state to this file after every change. */
  stateFile?: string;
}

export interface AwsStandin {
  url: string;
  port: number;
  state: StandinState;
  requests: RecordedRequest[];
  /** Requests for one operation, in order. */
  calls(op: string): RecordedRequest[];
  /** Queue `count` faults for the next calls of `op` (an operation name like "CreateKeysAndCertificate", or "*"). */
  injectFault(op: string, fault: Fault, count?: number): void;
  throttle(op: string, count?: number): void;
  failWith(op: string, status: number, count?: number, code?: string): void;
  /** Delay every call of `op` ("*" = all) by `ms`. 0 clears. */
  setLatency(op: string, ms: number): void;
  clearFaults(): void;
  close(): Promise<void>;
}

function regionFrom(headers: IncomingMessage['headers'], fallback: string): string {
  const auth = headers.authorization;
  const m = typeof auth === 'string' ? /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\//.exec(auth) : null;
  return m ? m[1] : fallback;
}

function resolveRoute(method: string, path: string, headers: IncomingMessage['headers']): Route | AwsServiceError {
  const target = headers['x-amz-target'];
  if (typeof target === 'string' && target.startsWith('secretsmanager.'))
    return secretsmanager.route(target.slice('secretsmanager.'.length));
  if (path.startsWith('/greengrass/v2/')) return greengrassv2.route(method, path);
  return (
    iotFleet.route(method, path) ??
    iotLists.route(method, path) ??
    iotPolicies.route(method, path) ??
    iot.route(method, path)
  );
}

function throttleError(service: ServiceName | 'unknown', f: Fault): AwsServiceError {
  const message = f.message ?? 'Rate exceeded';
  if (service === 'greengrassv2') {
    const retry = String(f.retryAfterSeconds ?? 0);
    return new AwsServiceError(f.code ?? 'ThrottlingException', f.status ?? 429, message, {}, { 'Retry-After': retry });
  }
  // IoT models ThrottlingException as 400 (not 429); awsJson services send client faults as 400.
  return new AwsServiceError(f.code ?? 'ThrottlingException', f.status ?? 400, message);
}

function faultError(service: ServiceName | 'unknown', f: Fault): AwsServiceError {
  if (f.kind === 'throttle') return throttleError(service, f);
  const status = f.status ?? 500;
  const code =
    f.code ??
    (service === 'secretsmanager'
      ? 'InternalServiceError'
      : service === 'iot'
        ? 'InternalFailureException'
        : 'InternalServerException');
  return new AwsServiceError(code, status, f.message ?? `stand-in injected ${status}`);
}

function writeError(res: ServerResponse, service: ServiceName | 'unknown', err: AwsServiceError): void {
  if (service === 'secretsmanager') {
    res.writeHead(err.status, { 'content-type': 'application/x-amz-json-1.1', ...err.headers });
    res.end(JSON.stringify({ __type: err.code, message: err.message, ...err.extra }));
    return;
  }
  // restJson1: the SDK reads x-amzn-ErrorType first; the body carries the message (and __type, as moto does).
  res.writeHead(err.status, { 'content-type': 'application/json', 'x-amzn-ErrorType': err.code, ...err.headers });
  res.end(JSON.stringify({ __type: err.code, message: err.message, ...err.extra }));
}

function writeOk(res: ServerResponse, service: ServiceName, out: ServiceResponse): void {
  const type = service === 'secretsmanager' ? 'application/x-amz-json-1.1' : 'application/json';
  if (out.body === undefined) {
    res.writeHead(out.status, { ...(out.headers ?? {}), 'content-length': '0' });
    res.end();
  } else {
    res.writeHead(out.status, { 'content-type': type, ...(out.headers ?? {}) });
    res.end(JSON.stringify(out.body));
  }
}

const REDACT_KEYS = new Set(['SecretString', 'SecretBinary', 'PrivateKey', 'privateKey']);

/** A copy safe to hand out over the control API: secret values replaced by their length. */
function redact(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redact);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [
        k,
        REDACT_KEYS.has(k) && typeof x === 'string' ? `<redacted ${x.length} chars>` : redact(x),
      ]),
    );
  }
  return v;
}

export async function startAwsStandin(o: AwsStandinOptions): Promise<AwsStandin> {
  const state = o.state ?? emptyState(o.endpoints);
  const requests: RecordedRequest[] = [];
  const faults = new Map<string, Fault[]>();
  const latency = new Map<string, number>();
  const ctx: HandlerContext = {
    state,
    ca: o.ca,
    changed: () => {
      if (o.stateFile) saveState(o.stateFile, state);
    },
  };

  const api: Omit<AwsStandin, 'url' | 'port' | 'close'> = {
    state,
    requests,
    calls: (op) => requests.filter((r) => r.op === op),
    injectFault(op, fault, count = 1) {
      const q = faults.get(op) ?? [];
      for (let i = 0; i < count; i++) q.push(fault);
      faults.set(op, q);
    },
    throttle(op, count = 1) {
      api.injectFault(op, { kind: 'throttle' }, count);
    },
    failWith(op, status, count = 1, code) {
      api.injectFault(op, { kind: 'error', status, code }, count);
    },
    setLatency(op, ms) {
      if (ms > 0) latency.set(op, ms);
      else latency.delete(op);
    },
    clearFaults() {
      faults.clear();
      latency.clear();
    },
  };

  async function control(req: IncomingMessage, res: ServerResponse, path: string, body: string): Promise<void> {
    const send = (status: number, v: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    try {
      const j = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      if (req.method === 'GET' && path === '/__standin/requests') return send(200, redact(requests));
      if (req.method === 'DELETE' && path === '/__standin/requests') {
        requests.length = 0;
        return send(200, {});
      }
      if (req.method === 'POST' && path === '/__standin/faults') {
        if (typeof j.op !== 'string') return send(400, { message: 'op is required' });
        api.injectFault(
          j.op,
          {
            kind: j.kind === 'error' ? 'error' : 'throttle',
            status: j.status as number | undefined,
            code: j.code as string | undefined,
            message: j.message as string | undefined,
            retryAfterSeconds: j.retryAfterSeconds as number | undefined,
          },
          Number(j.count ?? 1),
        );
        return send(200, {});
      }
      if (req.method === 'DELETE' && path === '/__standin/faults') {
        api.clearFaults();
        return send(200, {});
      }
      if (req.method === 'POST' && path === '/__standin/latency') {
        if (typeof j.op !== 'string') return send(400, { message: 'op is required' });
        api.setLatency(j.op, Number(j.ms ?? 0));
        return send(200, {});
      }
      if (req.method === 'GET' && path === '/__standin/state') return send(200, redact(state));
      // The account's other writers (account-feed.ts): fleet provisioning's RegisterThing and Greengrass's core status.
      if (req.method === 'POST' && path === '/__standin/provisioned') {
        recordProvisioning(state, provisionedThing(j));
        ctx.changed();
        return send(200, {});
      }
      if (req.method === 'POST' && path === '/__standin/core-status') {
        recordCoreStatus(state, coreStatusReport(j));
        ctx.changed();
        return send(200, {});
      }
      send(404, { message: `unknown stand-in control path ${req.method} ${path}` });
    } catch (err) {
      send(400, { message: (err as Error).message });
    }
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const url = new URL(req.url ?? '/', 'http://standin');
        const method = req.method ?? 'GET';
        if (url.pathname.startsWith('/__standin/')) return control(req, res, url.pathname, body);
        const found = resolveRoute(method, url.pathname, req.headers);
        const service: ServiceName | 'unknown' =
          found instanceof AwsServiceError
            ? typeof req.headers['x-amz-target'] === 'string'
              ? 'secretsmanager'
              : 'unknown'
            : found.service;
        const op = found instanceof AwsServiceError ? 'Unknown' : found.op;
        let parsed: unknown = body;
        try {
          if (body) parsed = JSON.parse(body);
        } catch {
          // keep raw text
        }
        const rec: RecordedRequest = {
          seq: requests.length + 1,
          service,
          op,
          method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: { ...req.headers },
          body: parsed,
          status: 0,
          at: Date.now(),
        };
        requests.push(rec);
        const delay = latency.get(op) ?? latency.get('*') ?? 0;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        try {
          if (found instanceof AwsServiceError) throw found;
          const q = faults.get(op)?.length ? faults.get(op) : faults.get('*');
          const fault = q?.shift();
          if (fault) throw faultError(service, fault);
          const out = await found.handle(
            {
              method,
              path: url.pathname,
              query: url.searchParams,
              headers: req.headers,
              body,
              region: regionFrom(req.headers, state.region),
            },
            ctx,
          );
          rec.status = out.status;
          writeOk(res, found.service, out);
        } catch (err) {
          const e =
            err instanceof AwsServiceError
              ? err
              : new AwsServiceError(
                  service === 'secretsmanager' ? 'InternalServiceError' : 'InternalFailureException',
                  500,
                  `stand-in bug: ${(err as Error).message}`,
                );
          rec.status = e.status;
          writeError(res, service, e);
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    ...api,
    url: `http://${o.host && o.host !== '0.0.0.0' ? o.host : '127.0.0.1'}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
