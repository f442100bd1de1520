// The builder's own HTTPS honours HTTPS_PROXY / NO_PROXY: the AWS SDK calls (the real CLI against the AWS
// stand-in behind a TLS front) and the downloads (httpGet, which fetches artifacts and the root CA) go
// through an HTTP CONNECT proxy with its credentials, or directly when NO_PROXY lists the host.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../common/errors.ts';
import { startConnectProxy, type ConnectProxy } from '../../harness/connect-proxy.ts';
import { bypassesProxy } from '../../builder/src/proxy.ts';
import { ca, cliEnv, issueCertificate, REPO, runCli, startAwsStandin, tmp, type AwsStandin } from './helpers.ts';

const dir = tmp('gg-https-proxy-');
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, ca.certificatePem);
const server = issueCertificate(ca, { commonName: 'localhost', altNames: { dns: ['localhost'] }, serverAuth: true });
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

let s: AwsStandin;
let front: ReturnType<typeof createTlsServer>;
let frontPort: number;
let proxy: ConnectProxy;
t.before(async () => {
  s = await startAwsStandin({ ca });
  const standinPort = Number(new URL(s.url).port);
  const sockets = new Set<Socket>();
  // TLS in front of the stand-in: the SDK speaks HTTPS to "localhost" as it would to AWS.
  front = createTlsServer({ key: server.privateKeyPem, cert: server.certificatePem }, (tlsSock) => {
    const up = connect(standinPort, '127.0.0.1');
    sockets.add(up);
    tlsSock.pipe(up).pipe(tlsSock);
    up.on('error', () => tlsSock.destroy());
    tlsSock.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontPort = (front.address() as AddressInfo).port;
  proxy = await startConnectProxy({ username: 'branch', password: 'p@ss' });
  t.teardown(() => {
    for (const x of sockets) x.destroy();
  });
});
t.teardown(async () => {
  await proxy.close();
  front.close();
  await s.close();
});

const proxied = (extra: NodeJS.ProcessEnv = {}) =>
  cliEnv(s, {
    AWS_ENDPOINT_URL: `https://localhost:${frontPort}`,
    NODE_EXTRA_CA_CERTS: caFile,
    HTTPS_PROXY: `http://branch:p%40ss@127.0.0.1:${proxy.port}`,
    ...extra,
  });

t.test('AWS SDK calls go through HTTPS_PROXY with its credentials', async (t) => {
  proxy.requests.length = 0;
  const r = await runCli(['endpoints', '--json'], proxied());
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).region, 'eu-west-1');
  t.ok(proxy.requests.length >= 1, 'the proxy was asked');
  const want = { target: `localhost:${frontPort}`, authorization: basic('branch', 'p@ss') };
  for (const q of proxy.requests) t.same(q, want);
});

t.test('NO_PROXY lists the endpoint: direct connection, the proxy is not asked', async (t) => {
  proxy.requests.length = 0;
  const r = await runCli(['endpoints', '--json'], proxied({ NO_PROXY: 'example.com,localhost' }));
  t.equal(r.code, 0, r.stderr);
  t.equal(proxy.requests.length, 0);
});

t.test('a proxy refusing the credentials: the AWS call fails with the proxy named, exit 4', async (t) => {
  const r = await runCli(['endpoints'], proxied({ HTTPS_PROXY: `http://branch:wrong@127.0.0.1:${proxy.port}` }));
  t.equal(r.code, ExitCode.AWS, r.stderr);
  t.match(r.stderr, /proxy 127\.0\.0\.1:\d+ refused CONNECT localhost:\d+: HTTP 407/);
});

t.test('downloads (httpGet: artifacts, root CA) go through HTTPS_PROXY; NO_PROXY bypasses it', async (t) => {
  const mirror = createHttpsServer({ key: server.privateKeyPem, cert: server.certificatePem }, (req, res) => {
    if (req.url === '/redirect') res.writeHead(302, { location: '/jar' }).end();
    else res.end(`served ${req.url}`);
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  t.teardown(() => mirror.close());
  const url = `https://localhost:${(mirror.address() as AddressInfo).port}/redirect`;
  const script = join(dir, 'get.mts');
  writeFileSync(
    script,
    [
      `import { httpGet } from ${JSON.stringify(join(REPO, 'builder/src/proxy.ts'))};`,
      'const r = await httpGet(process.argv[2]);',
      'console.log(JSON.stringify({ status: r.status, body: r.body.toString() }));',
      'process.exit(0);',
      '',
    ].join('\n'),
  );
  // Asynchronous: the proxy and the mirror run in this process.
  const run = (env: NodeJS.ProcessEnv) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
      const childEnv = { ...process.env, NODE_EXTRA_CA_CERTS: caFile, NO_PROXY: '', ...env };
      const opts = { cwd: REPO, timeout: 60_000, env: childEnv };
      const child = execFile(process.execPath, ['--import', 'tsx', script, url], opts, (_e, stdout, stderr) =>
        res({ status: child.exitCode, stdout, stderr }),
      );
    });
  proxy.requests.length = 0;
  let r = await run({ HTTPS_PROXY: `http://branch:p%40ss@127.0.0.1:${proxy.port}` });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { status: 200, body: 'served /jar' }, 'redirect followed');
  const viaProxy = proxy.requests.length >= 1 && proxy.requests.every((q) => q.target.startsWith('localhost:'));
  t.ok(viaProxy, 'through the proxy');
  proxy.requests.length = 0;
  r = await run({ HTTPS_PROXY: `http://branch:p%40ss@127.0.0.1:${proxy.port}`, NO_PROXY: '.localhost,localhost' });
  t.equal(r.status, 0, r.stderr);
  t.equal(proxy.requests.length, 0, 'NO_PROXY: direct');
});

t.test('NO_PROXY matching: exact host, domain suffix, leading dot, port, *', async (t) => {
  const env = (v: string) => ({ NO_PROXY: v });
  t.ok(bypassesProxy('iot.eu-west-1.amazonaws.com', 443, env('amazonaws.com')));
  t.ok(bypassesProxy('iot.eu-west-1.amazonaws.com', 443, env('.amazonaws.com')));
  t.notOk(bypassesProxy('notamazonaws.com', 443, env('amazonaws.com')));
  t.ok(bypassesProxy('mirror.local', 8443, env('mirror.local:8443')));
  t.notOk(bypassesProxy('mirror.local', 443, env('mirror.local:8443')));
  t.ok(bypassesProxy('anything', 443, env('*')));
  t.notOk(bypassesProxy('anything', 443, env('')));
});
