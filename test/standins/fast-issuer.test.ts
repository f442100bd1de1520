// The opt-in in-process device-certificate issuer of the provisioning STAND-IN (bench:fleet uses it):
// what it hands out must be what openssl and a TLS server accept as a client certificate from the CA,
// a fresh key and serial every time, and the device must be able to connect with it once activated.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { createCa, issueCertificate } from '../../standins/pki.ts';
import { createFastIssuer } from '../../standins/provisioning/fast-issuer.ts';

const ca = createCa();

t.test('openssl verifies the certificate as a TLS client certificate from the stand-in CA', async (t) => {
  const kp = createFastIssuer(ca).issue('AWS IoT Certificate', 365 * 30);
  const dir = mkdtempSync(join(tmpdir(), 'gg-fast-issuer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.pem'), ca.certificatePem);
  writeFileSync(join(dir, 'leaf.pem'), kp.certificatePem);
  const out = execFileSync(
    'openssl',
    ['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')],
    { encoding: 'utf8' },
  );
  t.match(out, /leaf\.pem: OK/);
  const x = new X509Certificate(kp.certificatePem);
  t.equal(x.subject, 'CN=AWS IoT Certificate');
  t.equal(x.issuer, new X509Certificate(ca.certificatePem).subject);
  t.equal(x.ca, false);
  t.ok(x.checkPrivateKey(createPrivateKey(kp.privateKeyPem)), 'the private key belongs to the certificate');
  t.ok(
    Date.parse(x.validFrom) < Date.now() && Date.parse(x.validTo) > Date.now() + 29 * 365 * 86400_000,
    'valid now and for 30 years (GeneralizedTime past 2049)',
  );
  t.match(kp.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
});

t.test('every certificate has its own key and serial', async (t) => {
  const fi = createFastIssuer(ca);
  const certs = Array.from({ length: 50 }, () => fi.issue('AWS IoT Certificate', 365));
  const xs = certs.map((c) => new X509Certificate(c.certificatePem));
  t.equal(new Set(xs.map((x) => x.serialNumber)).size, 50);
  t.equal(new Set(certs.map((c) => c.privateKeyPem)).size, 50);
  t.equal(new Set(xs.map((x) => x.fingerprint256)).size, 50);
  t.equal(fi.issued, 50);
});

t.test('a TLS server that trusts only the stand-in CA accepts the certificate as a client', async (t) => {
  const issuer = createFastIssuer(ca);
  const serverCert = issueCertificate(ca, { commonName: 'srv', serverAuth: true, altNames: { ip: ['127.0.0.1'] } });
  let seen!: (v: string) => void;
  const serverSide = new Promise<string>((r) => (seen = r));
  const srv = tls.createServer(
    {
      key: serverCert.privateKeyPem,
      cert: serverCert.certificatePem,
      ca: [ca.certificatePem],
      requestCert: true,
      rejectUnauthorized: true,
    },
    (s) => {
      seen(
        s.authorized ? `authorized ${s.getPeerCertificate().subject.CN}` : `refused ${String(s.authorizationError)}`,
      );
      s.destroy();
    },
  );
  srv.on('tlsClientError', (e) => seen(`tls error ${e.message}`));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const kp = issuer.issue('device', 365);
  const port = (srv.address() as { port: number }).port;
  const c = tls.connect({
    host: '127.0.0.1',
    port,
    key: kp.privateKeyPem,
    cert: kp.certificatePem,
    ca: [ca.certificatePem],
  });
  c.on('error', (e) => seen(`client error ${e.message}`));
  const answer = await serverSide;
  c.destroy();
  t.equal(answer, 'authorized device');
});

t.test('a CA with a non-EC key is refused with a clear error', async (t) => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  t.throws(
    () =>
      createFastIssuer({
        certificatePem: ca.certificatePem,
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      }),
    /only EC CA keys are supported/,
  );
});
