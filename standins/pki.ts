// Test PKI for the offline stand-ins: one CA that signs the claim certificates (issued by the AWS
// wire stand-in's CreateKeysAndCertificate), the device certificates (issued by the provisioning
// stand-in, from its own keys or from a device's CSR) and the provisioning stand-in's own TLS server
// certificate. Keys a stand-in hands out as AWS would are RSA 2048 PKCS#1 (`keyType: 'rsa'`). Uses the openssl CLI;
// private keys only ever pass through files in a 0700 temp dir, never process arguments.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';

export interface KeyPair {
  certificatePem: string;
  privateKeyPem: string;
}

export interface CertOptions {
  commonName: string;
  days?: number;
  /** Negative to backdate. Default: -1 day, so a freshly made cert is valid at once. */
  notBeforeOffsetDays?: number;
  /** DNS / IP subject alternative names (server certificates). */
  altNames?: { dns?: string[]; ip?: string[] };
  serverAuth?: boolean;
  /**
   * The leaf's key: 'ec' (P-256, PKCS#8 PEM; default, the test PKI's own certificates) or 'rsa' (2048 bits, PKCS#1
   * PEM `BEGIN RSA PRIVATE KEY`: what AWS IoT's CreateKeysAndCertificate issues, docs/facts/provisioning-mqtt.md).
   */
  keyType?: 'ec' | 'rsa';
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'gg-pki-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A new self-signed CA. */
export function createCa(commonName = 'greengrass-golden-image stand-in CA'): KeyPair {
  return withTmp((dir) => {
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key'], dir);
    openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'ca.key',
        '-sha256',
        '-days',
        '3650',
        '-subj',
        `/CN=${commonName}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-out',
        'ca.crt',
      ],
      dir,
    );
    return {
      certificatePem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      privateKeyPem: readFileSync(join(dir, 'ca.key'), 'utf8'),
    };
  });
}

function ymd(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

/** A new key pair and certificate signed by `ca`. Validity can be shifted to make expired / not-yet-valid certs. */
export function issueCertificate(ca: KeyPair, opts: CertOptions): KeyPair {
  return withTmp((dir) => {
    writeFileSync(join(dir, 'ca.crt'), ca.certificatePem);
    writeFileSync(join(dir, 'ca.key'), ca.privateKeyPem, { mode: 0o600 });
    if (opts.keyType === 'rsa') {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(join(dir, 'leaf.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    } else {
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leaf.key'], dir);
    }
    openssl(
      ['req', '-new', '-key', 'leaf.key', '-subj', `/CN=${opts.commonName.replace(/[/=]/g, '_')}`, '-out', 'leaf.csr'],
      dir,
    );
    const ext = ['basicConstraints=CA:FALSE', `extendedKeyUsage=${opts.serverAuth ? 'serverAuth' : 'clientAuth'}`];
    const san = [
      ...(opts.altNames?.dns ?? []).map((d) => `DNS:${d}`),
      ...(opts.altNames?.ip ?? []).map((i) => `IP:${i}`),
    ];
    if (san.length) ext.push(`subjectAltName=${san.join(',')}`);
    writeFileSync(join(dir, 'ext.cnf'), `${ext.join('\n')}\n`);
    const start = new Date(Date.now() + (opts.notBeforeOffsetDays ?? -1) * 86400_000);
    const end = new Date(start.getTime() + (opts.days ?? 365) * 86400_000);
    writeFileSync(join(dir, 'serial'), `${randomBytes(16).toString('hex')}\n`);
    mkdirSync(join(dir, 'db'));
    writeFileSync(join(dir, 'db', 'index.txt'), '');
    writeFileSync(
      join(dir, 'ca.cnf'),
      [
        '[ca]',
        'default_ca=d',
        '[d]',
        `dir=${dir}`,
        'database=$dir/db/index.txt',
        'new_certs_dir=$dir/db',
        'serial=$dir/serial',
        'default_md=sha256',
        'policy=p',
        'unique_subject=no',
        'copy_extensions=none',
        '[p]',
        'commonName=supplied',
        '',
      ].join('\n'),
    );
    openssl(
      [
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-cert',
        'ca.crt',
        '-keyfile',
        'ca.key',
        '-in',
        'leaf.csr',
        '-startdate',
        ymd(start),
        '-enddate',
        ymd(end),
        '-extfile',
        'ext.cnf',
        '-notext',
        '-out',
        'leaf.crt',
      ],
      dir,
    );
    return {
      certificatePem: readFileSync(join(dir, 'leaf.crt'), 'utf8'),
      privateKeyPem: readFileSync(join(dir, 'leaf.key'), 'utf8'),
    };
  });
}

/** A CA persisted in `dir` (ca.crt, ca.key 0600), created on first use: the offline pipeline's stand-ins share it. */
export function loadOrCreateCa(dir: string): KeyPair {
  const crt = join(dir, 'ca.crt');
  const key = join(dir, 'ca.key');
  if (existsSync(crt) && existsSync(key))
    return { certificatePem: readFileSync(crt, 'utf8'), privateKeyPem: readFileSync(key, 'utf8') };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = createCa();
  writeFileSync(key, ca.privateKeyPem, { mode: 0o600 });
  writeFileSync(crt, ca.certificatePem);
  return ca;
}

export class CsrError extends Error {}

/** Key types AWS IoT accepts in a certificate signing request (RSA of 2048 bits or more, EC P-256/P-384/P-521). */
function checkCsrKey(publicKeyPem: string): void {
  const key = createPublicKey(publicKeyPem);
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' && (d.modulusLength ?? 0) >= 2048) return;
  if (key.asymmetricKeyType === 'ec' && ['prime256v1', 'secp384r1', 'secp521r1'].includes(d.namedCurve ?? '')) return;
  const size = d.modulusLength ?? d.namedCurve ?? '';
  throw new CsrError(`the CSR's key (${key.asymmetricKeyType} ${size}) is not one AWS IoT accepts`);
}

/**
 * A client certificate for the key in `csrPem`, signed by `ca` (CreateCertificateFromCsr). The CSR's own signature
 * must verify; its subject is kept. Throws CsrError for a CSR that is not one.
 */
export function signCsr(ca: KeyPair, csrPem: string, days = 365 * 30): string {
  return withTmp((dir) => {
    writeFileSync(join(dir, 'req.csr'), csrPem);
    try {
      execFileSync('openssl', ['req', '-in', 'req.csr', '-noout', '-verify'], {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const pub = execFileSync('openssl', ['req', '-in', 'req.csr', '-noout', '-pubkey'], {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      checkCsrKey(pub);
    } catch (err) {
      if (err instanceof CsrError) throw err;
      throw new CsrError('the certificate signing request is not a valid PEM CSR with a verifiable signature');
    }
    writeFileSync(join(dir, 'ca.crt'), ca.certificatePem);
    writeFileSync(join(dir, 'ca.key'), ca.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
    const serial = `0x${randomBytes(16).toString('hex')}`;
    const ca509 = ['-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', serial, '-days', String(days), '-sha256'];
    openssl(['x509', '-req', '-in', 'req.csr', ...ca509, '-extfile', 'ext.cnf', '-out', 'leaf.crt'], dir);
    return readFileSync(join(dir, 'leaf.crt'), 'utf8');
  });
}
