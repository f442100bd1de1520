// CSR mode (the installer config names csrPath; common/installer-csr.ts): before the installer runs, the device makes
// its own key and a certificate signing request, so the plugin sends AWS only the CSR and the key never leaves this
// machine. Facts and sources: docs/facts/csr-mode.md.
//   - A key and CSR already there that belong together are kept: a nucleus an earlier run enabled may be provisioning
//     with them right now, and a new key would not match the certificate AWS issues for the CSR it already read.
//   - Anything else (one of the two, unreadable, not a pair) is half-done work: both are removed and made anew.
// openssl is spawned; the key comes back on its stdout and is written 0600 from the first byte, argv holds only
// paths, and nothing openssl prints is logged except its last error line. A failure leaves neither file behind.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-write.ts';
import { ConfigError, InterruptedError, TransientError } from '../../common/errors.ts';
import type { FleetProvisioningConfig } from '../../common/installer-config.ts';
import { csrPaths, type CsrPaths } from '../../common/installer-csr.ts';
import type { AgentConfig } from './agent-config.ts';
import type { Logger } from './log.ts';
import { removeFiles } from './state.ts';

/** RSA 2048: the key type AWS's own CreateKeysAndCertificate issues, so both modes leave the nucleus the same kind. */
export const DEVICE_KEY_ARGS = ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];

export type DeviceKeyOutcome = 'not-csr-mode' | 'reused' | 'generated';

/** Make sure the key and CSR the plugin's CSR mode reads exist and belong together. */
export async function ensureDeviceKey(
  cfg: AgentConfig,
  fleet: FleetProvisioningConfig,
  thingName: string,
  log: Logger,
  signal?: AbortSignal,
): Promise<DeviceKeyOutcome> {
  const paths = csrPaths(fleet);
  if (!paths) return 'not-csr-mode';
  const bin = cfg.installer.openssl;
  const held = await heldPair(bin, paths, signal);
  if (held === 'pair') {
    chmodSync(paths.csrPrivateKeyPath, 0o600);
    log.info({ ...paths }, 'device key and CSR from an earlier run belong together; keeping them');
    return 'reused';
  }
  if (held === 'partial') {
    const removed = removeFiles([paths.csrPath, paths.csrPrivateKeyPath]);
    log.warn({ removed }, 'device key and CSR from an earlier run are incomplete or do not match; making new ones');
  }
  try {
    mkdirSync(dirname(paths.csrPrivateKeyPath), { recursive: true, mode: 0o700 });
    mkdirSync(dirname(paths.csrPath), { recursive: true, mode: 0o755 });
    const keyPem = await openssl(bin, DEVICE_KEY_ARGS, undefined, signal);
    const keyPublic = publicKeyOf(keyPem, 'key');
    if (!keyPublic) throw new TransientError('openssl genpkey printed no usable private key', 'device-key-failed');
    writeFileAtomic(paths.csrPrivateKeyPath, keyPem, 0o600);
    const csrPem = await openssl(
      bin,
      ['req', '-new', '-sha256', '-key', paths.csrPrivateKeyPath, '-subj', `/CN=${thingName}`],
      undefined,
      signal,
    );
    if ((await csrPublicKey(bin, csrPem, signal)) !== keyPublic)
      throw new TransientError('openssl req printed no CSR for the device key', 'device-key-failed');
    writeFileAtomic(paths.csrPath, csrPem, 0o644);
  } catch (err) {
    removeFiles([paths.csrPath, paths.csrPrivateKeyPath]);
    throw err;
  }
  log.info(
    { ...paths, keyType: 'RSA 2048' },
    'device key and CSR made on this machine; only the CSR goes to AWS (CreateCertificateFromCsr)',
  );
  return 'generated';
}

/** For `check`: in CSR mode, that openssl runs (its version) and where the key and CSR will go. */
export async function checkDeviceKeyTool(
  cfg: AgentConfig,
  fleet: FleetProvisioningConfig,
  signal?: AbortSignal,
): Promise<string> {
  const paths = csrPaths(fleet);
  if (!paths) return 'not needed: AWS makes the key (no csrPath in the installer config)';
  const version = (await openssl(cfg.installer.openssl, ['version'], undefined, signal)).trim();
  return `${version}: makes the key ${paths.csrPrivateKeyPath} and the CSR ${paths.csrPath} before installing`;
}

/** 'pair' when both files are there and the CSR is for the key; 'none' when neither is; else 'partial'. */
async function heldPair(bin: string, p: CsrPaths, signal?: AbortSignal): Promise<'pair' | 'none' | 'partial'> {
  const there = [p.csrPath, p.csrPrivateKeyPath].filter((f) => existsSync(f));
  if (there.length === 0) return 'none';
  if (there.length === 1) return 'partial';
  try {
    if (!statSync(p.csrPrivateKeyPath).isFile()) return 'partial';
    const keyPublic = publicKeyOf(readFileSync(p.csrPrivateKeyPath, 'utf8'), 'key');
    const csrPublic = await csrPublicKey(bin, readFileSync(p.csrPath, 'utf8'), signal);
    return keyPublic !== null && keyPublic === csrPublic ? 'pair' : 'partial';
  } catch (err) {
    if (err instanceof ConfigError || err instanceof InterruptedError) throw err;
    return 'partial';
  }
}

/** The SPKI PEM of a private key (kind 'key') or a public key PEM, or null when it is not one. */
function publicKeyOf(pem: string, kind: 'key' | 'public'): string | null {
  try {
    const pub = kind === 'key' ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
    return pub.export({ type: 'spki', format: 'pem' }) as string;
  } catch {
    return null;
  }
}

/** The public key inside a CSR whose signature verifies, or null. */
async function csrPublicKey(bin: string, csrPem: string, signal?: AbortSignal): Promise<string | null> {
  if (!csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) return null;
  try {
    return publicKeyOf(await openssl(bin, ['req', '-noout', '-verify', '-pubkey'], csrPem, signal), 'public');
  } catch (err) {
    if (err instanceof TransientError) return null;
    throw err;
  }
}

/** Run openssl, return its stdout. Missing openssl: permanent (the image lacks it). A failure: transient. */
function openssl(bin: string, args: string[], input: string | undefined, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], signal });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (signal?.aborted) reject(signal.reason instanceof Error ? signal.reason : new InterruptedError('SIGTERM'));
      else if (err.code === 'ENOENT' || err.code === 'EACCES')
        reject(
          new ConfigError(
            `cannot run openssl (${bin}: ${err.code}): CSR mode (csrPath in the installer config) needs it to make the device key; install openssl in the image or set installer.openssl`,
            'openssl-missing',
          ),
        );
      else reject(new TransientError(`openssl ${args[0]} could not run: ${err.message}`, 'device-key-failed'));
    });
    child.on('close', (code, sig) => {
      if (signal?.aborted) return; // reported by 'error'
      if (code === 0) return resolve(stdout);
      // Only openssl's last message line, and never a line that could be key material.
      const why = stderr
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !/^[A-Za-z0-9+/=]{40,}$/.test(l) && !l.includes('-----'))
        .at(-1);
      reject(
        new TransientError(
          `openssl ${args[0]} failed (${code !== null ? `exit ${code}` : `signal ${sig}`})${why ? `: ${why.slice(0, 200)}` : ''}`,
          'device-key-failed',
        ),
      );
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
