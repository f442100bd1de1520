// Nucleus zip and FleetProvisioningByClaim jar: from the versioned AWS URLs, a local path, a
// file:// URL or an internal mirror; SHA-256 verified against a pinned value (mismatch =
// IntegrityError, exit 6); downloads cached by checksum so a re-run does not fetch again; https downloads
// go through HTTPS_PROXY unless NO_PROXY lists the host (proxy.ts).
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, IntegrityError, TransientError, UsageError } from '../../common/errors.ts';
import { downloadToFile, type Downloaded } from './download.ts';

export const RELEASES_BASE = 'https://d2s8p88vqu9w66.cloudfront.net/releases';

/** Pinned SHA-256 per version (aws4embeddedlinux/meta-aws recipes; docs/facts/artifacts.md). */
export const PINNED = {
  nucleus: { '2.16.0': 'f07742c76eca868617127b5c6c9028e41c45c2b4ec25dd0db6f3b40ef7638b4e' } as Record<string, string>,
  plugin: { '1.2.2': '1e7fdc625d4e1e7795d63f0e97981feecad526277bf211154505de145009e8c1' } as Record<string, string>,
};
export const DEFAULT_PLUGIN_VERSION = '1.2.2';

export type ArtifactKind = 'nucleus' | 'plugin';

export function artifactFileName(kind: ArtifactKind, version: string): string {
  return kind === 'nucleus' ? `greengrass-${version}.zip` : `fleetprovisioningbyclaim-${version}.jar`;
}

/** Path of the artifact under a releases base (AWS or a mirror of its layout). */
function releasePath(kind: ArtifactKind, version: string): string {
  return kind === 'nucleus'
    ? artifactFileName(kind, version)
    : `aws-greengrass-FleetProvisioningByClaim/${artifactFileName(kind, version)}`;
}

export interface ArtifactRequest {
  kind: ArtifactKind;
  version: string;
  /** Local path, file:// URL, full http(s) URL of the file, or a mirror base URL / local mirror dir. */
  source?: string;
  sha256?: string;
  cacheDir: string;
}

export interface Artifact {
  kind: ArtifactKind;
  version: string;
  /** Where it came from (URL or local path). */
  origin: string;
  sha256: string;
  /** Verified local copy (cache entry or the user's local file). */
  path: string;
  bytes: number;
  cached: boolean;
}

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'greengrass-image');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('error', rej)
      .on('data', (d) => h.update(d))
      .on('end', () => res(h.digest('hex')));
  });
}

function expectedHash(r: ArtifactRequest): string {
  const flag = r.kind === 'nucleus' ? '--nucleus-sha256' : '--plugin-sha256';
  const h = r.sha256 ?? PINNED[r.kind][r.version];
  if (!h)
    throw new UsageError(
      `${flag} is required for ${r.kind} version ${r.version} (only ${Object.keys(PINNED[r.kind]).join(', ')} has a pinned checksum)`,
    );
  if (!/^[0-9a-fA-F]{64}$/.test(h)) throw new UsageError(`${flag} must be 64 hex digits, got ${JSON.stringify(h)}`);
  return h.toLowerCase();
}

/** Resolve the source to either a local file or a URL to download. */
function locate(r: ArtifactRequest): { file?: string; url?: string } {
  const s = r.source;
  if (!s) return { url: `${RELEASES_BASE}/${releasePath(r.kind, r.version)}` };
  if (s.startsWith('file://')) return locateLocal(fileURLToPath(s), r);
  if (/^https?:\/\//.test(s)) {
    if (/\.(zip|jar)$/.test(new URL(s).pathname)) return { url: s };
    return { url: `${s.replace(/\/+$/, '')}/${releasePath(r.kind, r.version)}` };
  }
  return locateLocal(resolve(s), r);
}

function locateLocal(p: string, r: ArtifactRequest): { file: string } {
  const flag = r.kind === 'nucleus' ? '--nucleus-source' : '--plugin-source';
  if (!existsSync(p)) throw new ConfigError(`${flag} ${p} does not exist`, 'artifact-missing');
  if (statSync(p).isDirectory()) {
    for (const candidate of [join(p, releasePath(r.kind, r.version)), join(p, artifactFileName(r.kind, r.version))]) {
      if (existsSync(candidate)) return { file: candidate };
    }
    throw new ConfigError(
      `${flag} ${p} is a directory without ${artifactFileName(r.kind, r.version)}`,
      'artifact-missing',
    );
  }
  return { file: p };
}

export async function fetchArtifact(r: ArtifactRequest, progress: (m: string) => void): Promise<Artifact> {
  const want = expectedHash(r);
  const where = locate(r);
  const label = `${r.kind} ${r.version}`;
  if (where.file) {
    const got = await sha256File(where.file);
    if (got !== want)
      throw new IntegrityError(
        `${label} at ${where.file}: SHA-256 ${got} does not match the pinned ${want}`,
        'checksum-mismatch',
      );
    progress(`${label}: ${where.file} (sha256 ok)`);
    return {
      kind: r.kind,
      version: r.version,
      origin: where.file,
      sha256: got,
      path: where.file,
      bytes: statSync(where.file).size,
      cached: false,
    };
  }
  const url = where.url!;
  mkdirSync(r.cacheDir, { recursive: true, mode: 0o700 });
  const cached = join(r.cacheDir, `${want}-${basename(new URL(url).pathname)}`);
  if (existsSync(cached) && (await sha256File(cached)) === want) {
    progress(`${label}: cached ${cached} (sha256 ok)`);
    return {
      kind: r.kind,
      version: r.version,
      origin: url,
      sha256: want,
      path: cached,
      bytes: statSync(cached).size,
      cached: true,
    };
  }
  progress(`${label}: downloading ${url}`);
  const tmp = `${cached}.${process.pid}.part`;
  try {
    let res: Downloaded;
    try {
      res = await downloadToFile(url, tmp, (line) => progress(`${label}: ${line}`));
    } catch (err) {
      throw new TransientError(`${label}: cannot download ${url}: ${(err as Error).message}`, 'download-failed', {
        cause: err,
      });
    }
    if (res.status !== 200)
      throw new TransientError(`${label}: download ${url} failed: HTTP ${res.status}`, 'download-failed');
    const got = res.sha256;
    if (got !== want)
      throw new IntegrityError(
        `${label} from ${url}: SHA-256 ${got} does not match the pinned ${want}`,
        'checksum-mismatch',
      );
    renameSync(tmp, cached);
  } finally {
    rmSync(tmp, { force: true });
  }
  return {
    kind: r.kind,
    version: r.version,
    origin: url,
    sha256: want,
    path: cached,
    bytes: statSync(cached).size,
    cached: false,
  };
}

export function copyArtifact(a: Artifact, dest: string): void {
  copyFileSync(a.path, dest);
}
