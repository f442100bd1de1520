// npm run bench:batch — `greengrass-image cores create --count N` (the real CLI, a child process)
// against the AWS wire STAND-IN with a per-call latency and an account-style rate limit, for
// N=500 and N=2000: wall time against the bound the rate limit sets (calls / rate), and peak RSS of
// the CLI process (memory must be flat in N).
//
// In front of the stand-in sits a RATE-LIMIT STAND-IN (this file): a token bucket over every IoT call
// that answers over-limit calls the way IoT does (400 ThrottlingException), so exceeding the limit
// costs the CLI SDK retries with backoff. The CLI runs with --rate at the same limit.
//
// CreateKeysAndCertificate: the stand-in issues a real certificate with 4 openssl runs per call
// (~100-400 ms of blocking CPU on this shared box), which would measure openssl, not the batching.
// So this bench answers that one operation from a pool of real certificates issued up front and
// registers each answer (unique certificateId/ARN) in the stand-in's state, so AttachPolicy and
// AttachThingPrincipal go through the stand-in's own handlers. Same latency and limit apply.
//
//   tsx bench/batch.ts [--counts 500,2000] [--rate 200] [--latency-ms 20] [--concurrency 32]
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { IoTClient, CreatePolicyCommand } from '@aws-sdk/client-iot';
import { createCa, issueCertificate } from '../standins/pki.ts';
import { startAwsStandin, type AwsStandin } from '../standins/aws/server.ts';
import { ACCOUNT_ID, nowSeconds } from '../standins/aws/state.ts';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '500,2000' },
    rate: { type: 'string', default: '200' },
    'latency-ms': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '32' },
    pool: { type: 'string', default: '16' },
  },
});
const counts = values.counts.split(',').map(Number);
const RATE = Number(values.rate);
const LATENCY = Number(values['latency-ms']);
const CONCURRENCY = Number(values.concurrency);

const ca = createCa();
const pool = Array.from({ length: Number(values.pool) }, () =>
  issueCertificate(ca, { commonName: 'AWS IoT Certificate', days: 365 }),
);

interface Limiter {
  take(): boolean;
}
function tokenBucket(perSecond: number, burst: number): Limiter {
  let tokens = burst;
  let last = performance.now();
  return {
    take() {
      const now = performance.now();
      tokens = Math.min(burst, tokens + ((now - last) * perSecond) / 1000);
      last = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

async function front(s: AwsStandin, limit: Limiter, stats: { calls: number; throttled: number }) {
  const target = new URL(s.url);
  let n = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        stats.calls += 1;
        if (!limit.take()) {
          stats.throttled += 1;
          await new Promise((r) => setTimeout(r, LATENCY));
          res.writeHead(400, { 'content-type': 'application/json', 'x-amzn-ErrorType': 'ThrottlingException' });
          res.end(JSON.stringify({ message: 'Rate exceeded (rate-limit stand-in)' }));
          return;
        }
        if (req.method === 'POST' && (req.url ?? '').startsWith('/keys-and-certificate')) {
          await new Promise((r) => setTimeout(r, LATENCY));
          const kp = pool[n++ % pool.length]!;
          const certificateId = createHash('sha256').update(randomBytes(32)).digest('hex');
          const certificateArn = `arn:aws:iot:${s.state.region}:${ACCOUNT_ID}:cert/${certificateId}`;
          s.state.certificates[certificateId] = {
            certificateId,
            certificateArn,
            certificatePem: kp.certificatePem,
            status: 'ACTIVE',
            creationDate: nowSeconds(),
            lastModifiedDate: nowSeconds(),
            policies: [],
          };
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              certificateArn,
              certificateId,
              certificatePem: kp.certificatePem,
              keyPair: { PublicKey: '', PrivateKey: kp.privateKeyPem },
            }),
          );
          return;
        }
        const up = request(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
          (ur) => {
            res.writeHead(ur.statusCode ?? 502, ur.headers);
            ur.pipe(res);
          },
        );
        up.on('error', () => {
          res.writeHead(502);
          res.end();
        });
        up.end(Buffer.concat(chunks));
      })();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

function vmHWM(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function run(count: number) {
  const s = await startAwsStandin({ ca, endpoints: { region: 'eu-west-1' } });
  const iot = new IoTClient({
    endpoint: s.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'GreengrassV2IoTThingPolicy',
      policyDocument: '{"Version":"2012-10-17","Statement":[]}',
    }),
  );
  iot.destroy();
  s.setLatency('*', LATENCY);
  const stats = { calls: 0, throttled: 0 };
  const f = await front(s, tokenBucket(RATE, Math.max(1, Math.round(RATE / 10))), stats);
  const out = mkdtempSync(join(tmpdir(), 'gg-bench-batch-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
  Object.assign(env, {
    AWS_ENDPOINT_URL: f.url,
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_REGION: 'eu-west-1',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  });
  const args = [
    'bin/greengrass-image.js',
    'cores',
    'create',
    '--count',
    String(count),
    '--prefix',
    'bench-',
    '--thing-group',
    'BenchCores',
    '--output',
    join(out, 'o'),
    '--events',
    join(out, 'events.jsonl'),
    '--iot-data-endpoint',
    'a1-ats.iot.eu-west-1.amazonaws.com',
    '--iot-cred-endpoint',
    'c1.credentials.iot.eu-west-1.amazonaws.com',
    '--concurrency',
    String(CONCURRENCY),
    '--rate',
    String(RATE),
    '--json',
  ];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  let firstCall = 0;
  const poll = setInterval(() => {
    peak = Math.max(peak, vmHWM(child.pid!));
    if (!firstCall && stats.calls > 0) firstCall = performance.now();
  }, 50);
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  clearInterval(poll);
  const wall = (performance.now() - t0) / 1000;
  const callPhase = firstCall ? (performance.now() - firstCall) / 1000 : wall;
  await f.close();
  await s.close();
  const things = Object.keys((s.state as unknown as { things?: Record<string, unknown> }).things ?? {}).length;
  rmSync(out, { recursive: true, force: true });
  if (code !== 0) throw new Error(`cores create --count ${count} exited ${code}: ${stderr.slice(-2000)}`);
  const res = JSON.parse(stdout) as { created: number };
  const ok = stats.calls - stats.throttled;
  const bound = ok / RATE;
  return {
    count,
    created: res.created,
    things,
    calls: ok,
    throttled: stats.throttled,
    boundS: bound,
    wallS: wall,
    callPhaseS: callPhase,
    ratio: wall / bound,
    callPhaseRatio: callPhase / bound,
    peakRssMiB: peak / 1024,
  };
}

const rows = [];
for (const n of counts) {
  process.stderr.write(
    `bench:batch: cores create --count ${n} (rate ${RATE}/s, latency ${LATENCY} ms, concurrency ${CONCURRENCY}) ...\n`,
  );
  rows.push(await run(n));
}
console.log(
  `bench:batch  rate limit ${RATE} calls/s, ${LATENCY} ms per call, --concurrency ${CONCURRENCY}; load average now ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} on ${(await import('node:os')).cpus().length} CPUs`,
);
console.log('N      created  calls  throttled  bound(s)  wall(s)  wall/bound  calls-phase/bound  peakRSS(MiB)');
for (const r of rows) {
  console.log(
    `${String(r.count).padEnd(7)}${String(r.created).padStart(7)}${String(r.calls).padStart(7)}${String(r.throttled).padStart(11)}${r.boundS.toFixed(1).padStart(10)}${r.wallS.toFixed(1).padStart(9)}${r.ratio.toFixed(3).padStart(12)}${r.callPhaseRatio.toFixed(3).padStart(19)}${r.peakRssMiB.toFixed(1).padStart(14)}`,
  );
}
if (rows.length >= 2) {
  const a = rows[0]!;
  const b = rows[rows.length - 1]!;
  console.log(`peak RSS N=${b.count} / N=${a.count}: ${(b.peakRssMiB / a.peakRssMiB).toFixed(2)} (flat = ~1.0)`);
}
console.log(
  JSON.stringify({
    bench: 'batch',
    loadavg: loadavg(),
    rate: RATE,
    latencyMs: LATENCY,
    concurrency: CONCURRENCY,
    rows,
  }),
);
