// Independent check (issue 17, check 1), CreateCertificateFromCsr: the device keeps a key it generated itself and
// sends only a CSR (the plugin's csrPath mode; AWS recommends it). Run with the AWS IoT Device SDK v2's own
// identity clients over MQTT 3.1.1 and MQTT 5, then a connection with the device's own key.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueCertificate, type KeyPair } from '../../standins/pki.ts';
import { startProvisioningStandin } from '../../standins/provisioning/server.ts';
import {
  accepted,
  collectClosedClients,
  connect311,
  connect5,
  identity311,
  identity5,
  rejected,
  stop5,
} from './sdk-clients.ts';

const ca = createCa();
const claim = issueCertificate(ca, { commonName: 'claim' });
const TEMPLATE = 'GoldenImageFleetTemplate';
t.teardown(() => setTimeout(collectClosedClients, 50));

/** A key and CSR made on the "device" with openssl, as a user following the guide would. */
function deviceCsr(keyArgs: string[]): { keyPem: string; csrPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'csr-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-new', ...keyArgs, '-nodes', '-keyout', 'k.pem', '-subj', '/CN=device', '-out', 'r.csr'],
      { cwd: dir, stdio: 'ignore' },
    );
    return { keyPem: readFileSync(join(dir, 'k.pem'), 'utf8'), csrPem: readFileSync(join(dir, 'r.csr'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('CreateCertificateFromCsr over MQTT 5, RegisterThing, connect with the device-held key', async (t) => {
  const s = await startProvisioningStandin({ ca, templateName: TEMPLATE });
  t.teardown(() => s.stop());
  const at = { port: s.port, ca: ca.certificatePem };
  const client = await connect5(at, claim, 'claim-csr5');
  const id = identity5(client);
  t.teardown(async () => {
    id.close();
    await stop5(client);
  });
  const { keyPem, csrPem } = deviceCsr(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const created = accepted(await id.createCertificateFromCsr(csrPem));
  t.notOk('privateKey' in created, 'no private key in the reply');
  const cert = new X509Certificate(created.certificatePem as string);
  t.ok(cert.checkPrivateKey(createPrivateKey(keyPem)), 'the certificate is for the key the device kept');
  t.ok(cert.verify(new X509Certificate(ca.certificatePem).publicKey), 'signed by the stand-in CA');
  t.equal(created.certificateId, cert.fingerprint256.replace(/:/g, '').toLowerCase());
  const device: KeyPair = { certificatePem: created.certificatePem as string, privateKeyPem: keyPem };
  await t.rejects(connect5(at, device, 'edge-csr'), 'PENDING_ACTIVATION until RegisterThing');
  accepted(await id.registerThing(TEMPLATE, created.certificateOwnershipToken as string, { ThingName: 'edge-csr' }));
  await stop5(await connect5(at, device, 'edge-csr'));
  t.same(s.principalsOf('edge-csr'), [created.certificateId]);
});

t.test('CreateCertificateFromCsr over MQTT 3.1.1 with an RSA key; bad CSRs are rejected', async (t) => {
  const s = await startProvisioningStandin({ ca, templateName: TEMPLATE });
  t.teardown(() => s.stop());
  const at = { port: s.port, ca: ca.certificatePem };
  const conn = await connect311(at, claim, 'claim-csr311');
  t.teardown(() => conn.disconnect());
  const id = identity311(conn);
  const { keyPem, csrPem } = deviceCsr(['-newkey', 'rsa:2048']);
  const created = accepted(await id.createCertificateFromCsr(csrPem));
  accepted(await id.registerThing(TEMPLATE, created.certificateOwnershipToken as string, { ThingName: 'edge-rsa' }));
  await (
    await connect311(at, { certificatePem: created.certificatePem as string, privateKeyPem: keyPem }, 'edge-rsa')
  ).disconnect();
  t.pass('the RSA device connects with its own key');
  t.match(rejected(await id.createCertificateFromCsr('not a csr')), { statusCode: 400, errorCode: 'InvalidCsr' });
  const weak = deviceCsr(['-newkey', 'rsa:1024']);
  t.match(rejected(await id.createCertificateFromCsr(weak.csrPem)), { statusCode: 400, errorMessage: /rsa 1024/ });
  const tampered = csrPem.replace(
    /(\n[A-Za-z0-9+/]{10})[A-Za-z0-9+/]/,
    (_, p: string) => `${p}${p.endsWith('A') ? 'B' : 'A'}`,
  );
  t.match(rejected(await id.createCertificateFromCsr(tampered)), { statusCode: 400, errorCode: 'InvalidCsr' });
  t.equal(s.certificatesIssued, 1, 'nothing issued for a refused CSR');
});
