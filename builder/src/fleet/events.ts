// The fleet event log: one JSON line per completed operation (core created / deleted, deployment
// created, device created / deleted), appended so a pipeline can tail and forward it. Event names
// follow CDF greengrass2-provisioning's detail-types. Never carries key material.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const DEFAULT_EVENTS_FILE = 'greengrass-image-events.jsonl';

export type FleetEventType = 'core.created' | 'core.deleted' | 'deployment.created' | 'device.created' | 'device.deleted';

export interface FleetEvent {
  type: FleetEventType;
  [k: string]: unknown;
}

export class EventLog {
  readonly path: string;
  constructor(path: string | undefined) {
    this.path = resolve(path ?? process.env.GREENGRASS_IMAGE_EVENTS ?? DEFAULT_EVENTS_FILE);
    mkdirSync(dirname(this.path), { recursive: true });
  }

  /** Append one line (a single write with O_APPEND, so concurrent writers never interleave within a line). */
  append(e: FleetEvent): void {
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`;
    appendFileSync(this.path, line, { mode: 0o640 });
  }
}
