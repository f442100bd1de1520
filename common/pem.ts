// Claim certificate / key checks shared by the builder (before baking) and the agent (preflight).
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { ConfigError } from './errors.ts';

export interface CertificateInfo {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  fingerprint256: string;
}

/** `reason` prefixes the error reasons (`<reason>-not-pem`, `<reason>-unparseable`), so `status` tells which file it was. */
export function parseCertificate(pem: string, label = 'certificate', reason = 'cert'): X509Certificate {
  if (!/-----BEGIN CERTIFICATE-----/.test(pem))
    throw new ConfigError(`${label} is not a PEM certificate`, `${reason}-not-pem`);
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(`${label} cannot be parsed: ${(err as Error).message}`, `${reason}-unparseable`, {
      cause: err,
    });
  }
}

/**
 * Why a file that should hold PEM text cannot: it is empty, or it is DER (binary ASN.1, which starts with a
 * SEQUENCE byte 0x30) instead of PEM. Null when it is text. `kind` picks the openssl command of the fix.
 */
export function notPemCause(data: Buffer, kind: 'certificate' | 'key'): string | null {
  if (data.toString('latin1').trim() === '') return 'the file is empty';
  const binary = data.subarray(0, 64).some((b) => b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f);
  if (data[0] === 0x30 && binary) {
    const cmd =
      kind === 'certificate' ? 'openssl x509 -inform DER -outform PEM' : 'openssl pkey -inform DER -outform PEM';
    return `it is DER (binary), not PEM; convert it with ${cmd} -in FILE -out FILE.pem`;
  }
  if (binary) return 'it is binary, not PEM text';
  return null;
}

/** Parses a private key. The error never includes the key material. */
export function parsePrivateKey(pem: string, label = 'private key'): KeyObject {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED/m.test(pem))
    throw new ConfigError(
      `${label} is protected by a passphrase; the nucleus reads it without one: remove it with openssl pkey -in FILE -out FILE.plain`,
      'key-encrypted',
    );
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem))
    throw new ConfigError(`${label} is not a PEM private key`, 'key-not-pem');
  try {
    return createPrivateKey(pem);
  } catch {
    throw new ConfigError(`${label} cannot be parsed as a private key`, 'key-unparseable');
  }
}

/** Throws unless the private key belongs to the certificate. */
export function assertKeyMatchesCertificate(certPem: string, keyPem: string, label = 'claim'): CertificateInfo {
  const cert = parseCertificate(certPem, `${label} certificate`);
  const key = parsePrivateKey(keyPem, `${label} private key`);
  if (!cert.checkPrivateKey(key)) {
    throw new ConfigError(
      `${label} private key does not match the ${label} certificate (${cert.subject.replace(/\n/g, ', ')})`,
      'key-cert-mismatch',
    );
  }
  return {
    subject: cert.subject,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    fingerprint256: cert.fingerprint256,
  };
}

export type ValidityState = 'valid' | 'not-yet-valid' | 'expired';

export function validityAt(info: Pick<CertificateInfo, 'notBefore' | 'notAfter'>, now: Date): ValidityState {
  if (now < info.notBefore) return 'not-yet-valid';
  if (now > info.notAfter) return 'expired';
  return 'valid';
}
