import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { createCa, issueCertificate } from '../../standins/pki.ts';
import { assertKeyMatchesCertificate, validityAt } from '../../common/pem.ts';

t.test('stand-in CA issues client certs that chain to it and match their keys', async (t) => {
  const ca = createCa();
  const leaf = issueCertificate(ca, { commonName: 'claim' });
  const cert = new X509Certificate(leaf.certificatePem);
  t.ok(cert.verify(new X509Certificate(ca.certificatePem).publicKey), 'signed by the CA');
  const info = assertKeyMatchesCertificate(leaf.certificatePem, leaf.privateKeyPem);
  t.equal(validityAt(info, new Date()), 'valid');
  const other = issueCertificate(ca, { commonName: 'other' });
  t.throws(() => assertKeyMatchesCertificate(leaf.certificatePem, other.privateKeyPem), {
    name: 'ConfigError',
    reason: 'key-cert-mismatch',
  });
});

t.test('validity can be shifted into the past or future', async (t) => {
  const ca = createCa();
  const expired = issueCertificate(ca, { commonName: 'old', notBeforeOffsetDays: -30, days: 10 });
  t.equal(
    validityAt(assertKeyMatchesCertificate(expired.certificatePem, expired.privateKeyPem), new Date()),
    'expired',
  );
  const future = issueCertificate(ca, { commonName: 'new', notBeforeOffsetDays: 5, days: 10 });
  t.equal(
    validityAt(assertKeyMatchesCertificate(future.certificatePem, future.privateKeyPem), new Date()),
    'not-yet-valid',
  );
});
