// The fleet event log: one JSON line per completed operation (core created / deleted, deployment
// created, device created / deleted), appended so a pipeline can tail and forward it. Event names
// follow CDF greengrass2-provisioning's detail-types. Never carries key material.
import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../../../common/errors.ts';

export const DEFAULT_EVENTS_FILE = 'greengrass-image-events.jsonl';

export type FleetEventType =
  'core.created' | 'core.deleted' | 'deployment.created' | 'device.created' | 'device.deleted';

export interface FleetEvent {
  type: FleetEventType;
  [k: string]: unknown;
}

/**
 * Commands construct it before their first AWS call: a log that cannot be opened for appending is a
 * ConfigError then, not an event lost after the operation it records has happened.
 */
export class EventLog {
  readonly path: string;
  constructor(path: string | undefined) {
    this.path = resolve(path ?? process.env.GREENGRASS_IMAGE_EVENTS ?? DEFAULT_EVENTS_FILE);
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      closeSync(openSync(this.path, 'a', 0o640));
    } catch (err) {
      throw this.error(err);
    }
  }

  /** Append one line (a single write with O_APPEND, so concurrent writers never interleave within a line). */
  append(e: FleetEvent): void {
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`;
    try {
      appendFileSync(this.path, line, { mode: 0o640 });
    } catch (err) {
      throw this.error(err);
    }
  }

  private error(err: unknown): ConfigError {
    const e = err as NodeJS.ErrnoException;
    return new ConfigError(
      `cannot append to the event log ${this.path} (--events / $GREENGRASS_IMAGE_EVENTS): ${e.code ?? e.message}`,
      'events-unwritable',
      { cause: err },
    );
  }
}
