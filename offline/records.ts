// Reading the provisioning stand-in's registration records (what a user would check on the AWS side).
import { existsSync, readFileSync } from 'node:fs';

export interface Registration {
  thingName: string;
  /** Host time of the registration (ISO) if the stand-in records one. */
  time: string | null;
  certificateId: string | null;
  raw: Record<string, unknown>;
}

/** Successful registrations in the records file (JSON lines or a JSON array; rejected attempts are skipped). */
export function readRegistrations(file: string): Registration[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8').trim();
  if (!text) return [];
  let items: unknown[];
  if (text.startsWith('[')) items = JSON.parse(text) as unknown[];
  else if (text.startsWith('{') && !text.includes('\n')) {
    const one = JSON.parse(text) as Record<string, unknown>;
    items = Array.isArray(one.registrations) ? (one.registrations as unknown[]) : [one];
  } else items = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as unknown);
  const out: Registration[] = [];
  for (const it of items) {
    if (!it || typeof it !== 'object') continue;
    const r = it as Record<string, unknown>;
    const kind = String(r.type ?? r.event ?? r.kind ?? r.action ?? 'register');
    const ok = r.ok ?? r.accepted ?? r.success ?? (r.status !== undefined ? r.status === 'accepted' || r.status === 'ok' : true);
    if (!/regist/i.test(kind) || ok === false || r.rejected === true || r.error) continue;
    const name = r.thingName ?? (r.parameters as Record<string, unknown> | undefined)?.ThingName;
    if (typeof name !== 'string') continue;
    const time = [r.time, r.at, r.timestamp, r.registeredAt].find((v) => typeof v === 'string' || typeof v === 'number');
    out.push({
      thingName: name,
      time: time === undefined ? null : new Date(time as string | number).toISOString(),
      certificateId: typeof r.certificateId === 'string' ? r.certificateId : null,
      raw: r,
    });
  }
  return out;
}
