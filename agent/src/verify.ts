// Installer exit 0 does not mean provisioned: the plugin runs later inside the nucleus, and on
// failure the nucleus logs it and runs on unprovisioned. So we watch the nucleus's own record
// (config/config.tlog gaining system.thingName) and its log for the plugin's failure line.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './backoff.ts';
import { scrubSecrets } from './log.ts';

export const PLUGIN_FAILURE_LINE = 'Caught exception while running provisioning plugin';

export function tlogPath(rootPath: string): string {
  return join(rootPath, 'config', 'config.tlog');
}
export function nucleusLogPath(rootPath: string): string {
  return join(rootPath, 'logs', 'greengrass.log');
}

/**
 * The latest value of each topic path in a config.tlog (one JSON object per line:
 * {"TS":..,"TP":["system","thingName"],"W":"changed","V":"..."}). A torn last line is skipped.
 */
export function readTlog(path: string): Map<string, unknown> {
  const values = new Map<string, unknown>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return values;
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const rec = JSON.parse(line) as { TP?: unknown; W?: string; V?: unknown };
      if (!Array.isArray(rec.TP)) continue;
      const key = rec.TP.join('.');
      if (rec.W === 'removed') values.delete(key);
      else if (rec.W === 'changed' || rec.W === undefined) values.set(key, rec.V);
    } catch {
      // torn line (power loss mid-append): ignore
    }
  }
  return values;
}

/** The thingName the nucleus has recorded, or null. */
export function recordedThingName(rootPath: string): string | null {
  const v = readTlog(tlogPath(rootPath)).get('system.thingName');
  return typeof v === 'string' && v !== '' ? v : null;
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readFrom(path: string, offset: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(path).size;
    if (size < offset) offset = 0; // rotated / truncated
    const buf = Buffer.alloc(Math.min(size - offset, 4 * 1024 * 1024));
    const n = readSync(fd, buf, 0, buf.length, offset);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The plugin's failure line plus the lines after it (its reason), from `offset` on; null if none. */
export function pluginFailure(logPath: string, offset: number): string | null {
  const text = readFrom(logPath, offset);
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(PLUGIN_FAILURE_LINE));
  if (i < 0) return null;
  const reason = lines.slice(i, i + 4).map((l) => l.trim()).filter(Boolean).join(' | ');
  return scrubSecrets(reason).slice(0, 600);
}

export type VerifyOutcome =
  | { status: 'provisioned'; thingName: string }
  | { status: 'failed'; reason: string }
  | { status: 'timeout' };

export interface VerifyOptions {
  rootPath: string;
  /** greengrass.log size before the nucleus was (re)started: only newer lines count. */
  logOffset: number;
  timeoutMs: number;
  pollMs: number;
  signal?: AbortSignal;
}

export async function waitForProvisioning(o: VerifyOptions): Promise<VerifyOutcome> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const name = recordedThingName(o.rootPath);
    if (name) return { status: 'provisioned', thingName: name };
    const failure = pluginFailure(nucleusLogPath(o.rootPath), o.logOffset);
    if (failure) {
      // The nucleus may still record the name right after a retried attempt; look once more.
      const again = recordedThingName(o.rootPath);
      if (again) return { status: 'provisioned', thingName: again };
      return { status: 'failed', reason: failure };
    }
    const left = deadline - Date.now();
    if (left <= 0) return { status: 'timeout' };
    await sleep(Math.min(o.pollMs, left), o.signal);
  }
}
