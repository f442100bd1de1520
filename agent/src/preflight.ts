// Preflight checks shared by `check` (report every step, change nothing) and `run` (stop at the
// first failure). Each step throws a typed error: ConfigError (permanent) or TransientError.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, TransientError, CliError } from '../../common/errors.ts';
import {
  assertKeyMatchesCertificate,
  notPemCause,
  parseCertificate,
  parsePrivateKey,
  validityAt,
  type CertificateInfo,
} from '../../common/pem.ts';
import type { FleetProvisioningConfig } from '../../common/installer-config.ts';
import type { AgentConfig } from './agent-config.ts';
import { sleep } from './backoff.ts';
import type { Logger } from './log.ts';
import { reportWait, type Wait } from './progress.ts';

export {
  endpointOf,
  proxyConnectProbe,
  proxyOf,
  tcpProbe,
  waitForEndpoint,
  type Endpoint,
  type ProxySettings,
} from './endpoint.ts';

/** Bound on `java -version` (only when the JDK's release file does not answer). */
export const JAVA_VERSION_TIMEOUT_SECONDS = 30;

export interface PreflightContext {
  cfg: AgentConfig;
  log: Logger;
  signal?: AbortSignal;
  /** false for `check`: one try for the clock and network, no waiting. */
  wait: boolean;
  now?: () => Date;
}

/** Parse `java -version` output ("1.8.0_392", "17.0.9", "21") into the major version. */
export function parseJavaVersion(output: string): number | null {
  const m = /version "([^"]+)"/.exec(output) ?? /^(?:openjdk|java) (\d[\w.]*)/m.exec(output);
  if (!m) return null;
  const parts = (m[1] as string).split(/[._-]/).map((p) => Number.parseInt(p, 10));
  if (!Number.isFinite(parts[0])) return null;
  return parts[0] === 1 && Number.isFinite(parts[1]) ? (parts[1] as number) : (parts[0] as number);
}

/** Find a command on PATH (or take it as a path), following symlinks (/usr/bin/java → the JDK). */
function resolveCommand(cmd: string): string | null {
  const candidates = cmd.includes('/')
    ? [cmd]
    : (process.env.PATH ?? '')
        .split(':')
        .filter(Boolean)
        .map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return realpathSync(c);
    } catch {
      // next
    }
  }
  return null;
}

/**
 * The JDK/JRE `release` file next to bin/java (JAVA_VERSION="17.0.9"): the version without starting
 * a JVM (start-up time is measured). Null when there is none; then `java -version` decides.
 */
export function javaVersionFromRelease(javaPath: string): number | null {
  try {
    const text = readFileSync(join(dirname(dirname(javaPath)), 'release'), 'utf8');
    const m = /^JAVA_VERSION="([^"]+)"/m.exec(text);
    return m ? parseJavaVersion(`version "${m[1]}"`) : null;
  } catch {
    return null;
  }
}

export function checkJava(cfg: AgentConfig): string {
  const resolved = resolveCommand(cfg.installer.java);
  if (!resolved) {
    throw new ConfigError(
      `java not found (${cfg.installer.java}): the Greengrass nucleus needs a Java ${cfg.installer.minJavaVersion}+ runtime`,
      'java-missing',
    );
  }
  const fromRelease = javaVersionFromRelease(resolved);
  if (fromRelease !== null) {
    if (fromRelease < cfg.installer.minJavaVersion) {
      throw new ConfigError(
        `java ${fromRelease} is too old: the Greengrass nucleus needs Java ${cfg.installer.minJavaVersion} or later`,
        'java-too-old',
      );
    }
    return `java ${fromRelease} (${resolved})`;
  }
  const r = spawnSync(cfg.installer.java, ['-version'], {
    encoding: 'utf8',
    timeout: JAVA_VERSION_TIMEOUT_SECONDS * 1000,
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT'
        ? `java not found (${cfg.installer.java}): the Greengrass nucleus needs a Java ${cfg.installer.minJavaVersion}+ runtime`
        : `cannot run ${cfg.installer.java} -version: ${r.error.message}`,
      'java-missing',
      { cause: r.error },
    );
  }
  const out = `${r.stderr ?? ''}\n${r.stdout ?? ''}`;
  const major = parseJavaVersion(out);
  if (r.status !== 0 || major === null)
    throw new ConfigError(
      `${cfg.installer.java} -version failed or printed no version (exit ${r.status})`,
      'java-broken',
    );
  if (major < cfg.installer.minJavaVersion) {
    throw new ConfigError(
      `java ${major} is too old: the Greengrass nucleus needs Java ${cfg.installer.minJavaVersion} or later`,
      'java-too-old',
    );
  }
  return `java ${major}`;
}

function assertFile(path: string, what: string, reason: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ConfigError(`${what} ${path} does not exist`, reason);
  }
  if (!st.isFile()) throw new ConfigError(`${what} ${path} is not a regular file`, reason);
}

export function checkJars(cfg: AgentConfig): string {
  assertFile(cfg.installer.jar, 'installer jar', 'installer-jar-missing');
  assertFile(cfg.installer.pluginJar, 'fleet provisioning plugin jar', 'plugin-jar-missing');
  return `${cfg.installer.jar}, ${cfg.installer.pluginJar}`;
}

/** A PEM file's text; missing, unreadable, empty or DER is an error naming the path and the cause. */
function readRequired(path: string, what: string, reason: string, kind: 'certificate' | 'key'): string {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${what} ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`,
      reason,
    );
  }
  const cause = notPemCause(data, kind);
  if (cause) {
    const empty = cause === 'the file is empty';
    throw new ConfigError(
      `${what} ${path} cannot be used: ${cause}`,
      `${reason.replace(/-missing$/, '')}-${empty ? 'empty' : 'not-pem'}`,
    );
  }
  return data.toString('utf8');
}

/** Claim cert + key present, PEM, matching; root CA present and PEM. Never logs key material. */
export function checkClaim(fleet: FleetProvisioningConfig): CertificateInfo {
  const cert = readRequired(fleet.claimCertificatePath, 'claim certificate', 'claim-cert-missing', 'certificate');
  const key = readRequired(fleet.claimCertificatePrivateKeyPath, 'claim private key', 'claim-key-missing', 'key');
  const ca = readRequired(fleet.rootCaPath, 'root CA', 'root-ca-missing', 'certificate');
  parseCertificate(ca, `root CA ${fleet.rootCaPath}`, 'root-ca');
  // Each file's own errors name its path; the pair's match is checked after.
  parseCertificate(cert, `claim certificate ${fleet.claimCertificatePath}`, 'claim-cert');
  parsePrivateKey(key, `claim private key ${fleet.claimCertificatePrivateKeyPath}`);
  return assertKeyMatchesCertificate(cert, key, 'claim');
}

/**
 * The clock must be past the claim certificate's notBefore and the image's build time (the
 * template's mtime). Before that the clock is not set yet: wait for it, bounded. An expired claim
 * certificate is permanent.
 */
export async function waitForClock(ctx: PreflightContext, claim: CertificateInfo, buildTime: Date): Promise<string> {
  const now = ctx.now ?? (() => new Date());
  const floor = new Date(Math.max(claim.notBefore.getTime(), buildTime.getTime()));
  const deadline = Date.now() + ctx.cfg.preflight.clockWaitSeconds * 1000;
  let waiting: Wait | undefined;
  try {
    return await clockLoop(ctx, claim, buildTime, floor, deadline, now, (w) => (waiting = w));
  } finally {
    waiting?.done();
  }
}

async function clockLoop(
  ctx: PreflightContext,
  claim: CertificateInfo,
  buildTime: Date,
  floor: Date,
  deadline: number,
  now: () => Date,
  started: (w: Wait) => void,
): Promise<string> {
  for (let i = 0; ; i++) {
    const t = now();
    if (validityAt(claim, t) === 'expired') {
      throw new ConfigError(
        `the claim certificate expired at ${claim.notAfter.toISOString()} (clock: ${t.toISOString()}); bake the image with a valid claim certificate`,
        'claim-cert-expired',
      );
    }
    if (t >= floor) return `clock ${t.toISOString()} is past ${floor.toISOString()}`;
    if (!ctx.wait || Date.now() >= deadline) {
      throw new TransientError(
        `the clock (${t.toISOString()}) is before ${t < claim.notBefore ? `the claim certificate's notBefore ${claim.notBefore.toISOString()}` : `the image build time ${buildTime.toISOString()}`}: time is not synchronised yet`,
        'clock-not-set',
      );
    }
    if (i === 0) {
      const bound = ctx.cfg.preflight.clockWaitSeconds;
      ctx.log.warn(
        { now: t.toISOString(), floor: floor.toISOString(), reason: 'clock-not-set' },
        `The clock (${t.toISOString()}) is before ${floor.toISOString()}, the claim certificate's start or the image's build time: waiting up to ${bound} s for time synchronisation`,
      );
      started(
        reportWait(
          ctx.log,
          'the clock to be set',
          bound,
          ctx.cfg.log.progressSeconds,
          {},
          () => `clock ${now().toISOString()}`,
        ),
      );
    }
    await sleep(Math.min(2000, Math.max(50, deadline - Date.now())), ctx.signal);
  }
}

export interface StepResult {
  step: string;
  ok: boolean;
  detail: string;
  error?: CliError;
}

/** Run a step, turning a typed error into a result (for `check`). */
export async function step(name: string, fn: () => string | Promise<string>): Promise<StepResult> {
  try {
    return { step: name, ok: true, detail: await fn() };
  } catch (err) {
    if (err instanceof CliError) return { step: name, ok: false, detail: err.message, error: err };
    throw err;
  }
}
