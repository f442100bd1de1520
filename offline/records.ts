// Reading the provisioning stand-in's records file (standins/provisioning: JSON lines
// {"at": ISO, "event": "registration" | "takeover" | "rejection" | "certificate" | ..., ...}):
// what a user would check on the AWS IoT side.
import { existsSync, readFileSync } from 'node:fs';

export interface Registration {
  thingName: string;
  /** Host time of the registration (ISO). */
  time: string;
  certificateId: string;
  parameters: Record<string, string>;
}

export interface RecordEvent {
  at: string;
  event: string;
  [k: string]: unknown;
}

export function readEvents(file: string): RecordEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as RecordEvent);
}

/** Successful RegisterThing calls, in order. */
export function readRegistrations(file: string): Registration[] {
  return readEvents(file)
    .filter((e) => e.event === 'registration')
    .map((e) => {
      const r = e.registration as {
        thingName: string;
        at?: string;
        certificateId: string;
        parameters: Record<string, string>;
      };
      return {
        thingName: r.thingName,
        time: r.at ?? e.at,
        certificateId: r.certificateId,
        parameters: r.parameters ?? {},
      };
    });
}

/** Counts of the other events a user would look at (takeovers must be 0). */
export function eventCounts(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of readEvents(file)) out[e.event] = (out[e.event] ?? 0) + 1;
  return out;
}
