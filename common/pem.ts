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

/** Parses a private key. The error never includes the key material. */
export function parsePrivateKey(pem: string, label = 'private key'): KeyObject {
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
