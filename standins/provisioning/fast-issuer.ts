// Opt-in IN-PROCESS device-certificate issuer for the provisioning STAND-IN (used by `npm run bench:fleet`).
// The default issuer (standins/pki.ts issueCertificate) runs the openssl CLI several times per
// certificate (~4 certificates/s under load), which would make the stand-in, not the rate limit, the
// bottleneck of a fleet-scale run. This one makes a fresh P-256 key with node:crypto and signs a
// minimal X.509 v3 leaf (CN, validity, SPKI, basicConstraints CA:FALSE, extendedKeyUsage clientAuth)
// with the stand-in CA's EC key, encoding the DER itself. Every call makes a new key and a random
// serial: a certificate is never handed to two devices. Not the default: the offline pipeline and
// tests keep the openssl issuer.
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyPair } from '../pki.ts';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = p >> 7; v > 0; v >>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const y = d.getUTCFullYear();
  // RFC 5280 4.1.2.5: UTCTime up to 2049, GeneralizedTime from 2050 on.
  return y < 2050
    ? tlv(0x17, Buffer.from(`${String(y % 100).padStart(2, '0')}${rest}`))
    : tlv(0x18, Buffer.from(`${y}${rest}`));
}

/** Read one DER TLV at `off`: [tag, start of value, end of value]. */
function readTlv(der: Buffer, off: number): { tag: number; start: number; end: number; next: number } {
  const tag = der[off] as number;
  let l = der[off + 1] as number;
  let start = off + 2;
  if (l & 0x80) {
    const nb = l & 0x7f;
    l = 0;
    for (let i = 0; i < nb; i++) l = (l << 8) | (der[start + i] as number);
    start += nb;
  }
  return { tag, start, end: start + l, next: start + l };
}

/** The subject Name (raw DER) of a certificate: the issuer Name of everything it signs. */
function subjectDer(certPem: string): Buffer {
  const der = new X509Certificate(certPem).raw;
  const cert = readTlv(der, 0);
  const tbs = readTlv(der, cert.start);
  let off = tbs.start;
  const fields: { start: number; next: number; tag: number }[] = [];
  while (off < tbs.end) {
    const f = readTlv(der, off);
    fields.push({ start: off, next: f.next, tag: f.tag });
    off = f.next;
  }
  const i = fields[0]?.tag === 0xa0 ? 5 : 4; // [version], serial, sigAlg, issuer, validity, subject
  const s = fields[i];
  if (!s || s.tag !== 0x30) throw new Error('fast issuer: cannot find the CA certificate subject');
  return der.subarray(s.start, s.next);
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export interface FastIssuer {
  /** A new key pair and a leaf certificate (clientAuth) signed by the CA. */
  issue(commonName: string, days: number): KeyPair;
  issued: number;
}

/** An in-process issuer for `ca` (which must have an EC key, as standins/pki.ts createCa makes). */
export function createFastIssuer(ca: KeyPair): FastIssuer {
  const caKey = createPrivateKey(ca.privateKeyPem);
  if (caKey.asymmetricKeyType !== 'ec')
    throw new Error(`fast issuer: the CA key is ${caKey.asymmetricKeyType}, only EC CA keys are supported`);
  const issuer = subjectDer(ca.certificatePem);
  const self: FastIssuer = {
    issued: 0,
    issue(commonName: string, days: number): KeyPair {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const serial = randomBytes(16);
      serial[0] = (serial[0] as number) & 0x7f; // positive INTEGER
      if (serial[0] === 0) serial[0] = 1;
      const notBefore = new Date(Date.now() - 86400_000);
      const notAfter = new Date(notBefore.getTime() + days * 86400_000);
      const subject = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
      const extensions = tlv(
        0xa3,
        seq(
          seq(oid('2.5.29.19'), tlv(0x04, seq())), // basicConstraints: CA:FALSE
          seq(oid('2.5.29.37'), tlv(0x04, seq(oid('1.3.6.1.5.5.7.3.2')))), // extendedKeyUsage: clientAuth
        ),
      );
      const tbs = seq(
        tlv(0xa0, tlv(0x02, Buffer.from([2]))),
        tlv(0x02, serial),
        ECDSA_SHA256,
        issuer,
        seq(time(notBefore), time(notAfter)),
        subject,
        publicKey.export({ type: 'spki', format: 'der' }),
        extensions,
      );
      const signature = sign('sha256', tbs, caKey);
      const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature));
      const b64 = der
        .toString('base64')
        .replace(/(.{64})/g, '$1\n')
        .replace(/\n$/, '');
      self.issued++;
      return {
        certificatePem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      };
    },
  };
  return self;
}
