// What the provisioning STAND-IN knows, as AWS IoT's registry would: certificates it issued (PENDING_ACTIVATION until
// RegisterThing, then ACTIVE), their ownership tokens, and Things with the certificates attached to them.
// Every change is appended to the records file (JSON lines) and replayed at start, so a stand-in restarted on the
// same file still refuses a certificate that was created but never registered, still honours its unexpired token,
// and still knows which certificates a Thing holds. Tokens are kept as SHA-256 hashes: the records never hold a
// bearer credential or a private key.
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type CertStatus = 'PENDING_ACTIVATION' | 'ACTIVE';

export interface IssuedCert {
  certificateId: string;
  status: CertStatus;
  claimFingerprint: string;
}

export interface OwnershipToken {
  certificateId: string;
  claimFingerprint: string;
  expiresAt: number;
  used: boolean;
}

export interface Registration {
  thingName: string;
  certificateId: string;
  parameters: Record<string, string>;
  thingGroupName?: string;
  claimFingerprint: string;
  at: string;
}

/** A RegisterThing for a Thing that already held another ACTIVE certificate: AWS attached the new one beside it. */
export interface Takeover {
  thingName: string;
  certificateId: string;
  /** The certificates the Thing held before, still attached and ACTIVE. */
  previousCertificateIds: string[];
  claimFingerprint: string;
  at: string;
}

export interface ThingRecord {
  thingName: string;
  certificateIds: string[];
  thingGroups: string[];
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class Registry {
  readonly certs = new Map<string, IssuedCert>();
  readonly tokens = new Map<string, OwnershipToken>();
  readonly things = new Map<string, ThingRecord>();

  constructor(private readonly recordsFile?: string) {}

  record(event: Record<string, unknown>): void {
    if (!this.recordsFile) return;
    mkdirSync(dirname(this.recordsFile), { recursive: true });
    appendFileSync(this.recordsFile, `${JSON.stringify({ at: new Date().toISOString(), ...event })}\n`);
  }

  issued(certificateId: string, token: string, claimFingerprint: string, expiresAt: number, clientId?: string): void {
    this.applyIssued(certificateId, tokenHash(token), claimFingerprint, expiresAt);
    this.record({
      event: 'certificate',
      certificateId,
      status: 'PENDING_ACTIVATION',
      tokenSha256: tokenHash(token),
      tokenExpiresAt: new Date(expiresAt).toISOString(),
      claimFingerprint,
      clientId,
    });
  }

  /** The Thing's certificates that are ACTIVE, other than `certificateId`. */
  otherActiveCertificates(thingName: string, certificateId: string): string[] {
    const thing = this.things.get(thingName);
    if (!thing) return [];
    return thing.certificateIds.filter((id) => id !== certificateId && this.certs.get(id)?.status === 'ACTIVE');
  }

  /** RegisterThing accepted: spend the token, activate the certificate, attach it to the Thing, set its groups. */
  registered(reg: Registration, tokenHashValue: string, thingGroups: string[], takeover?: Takeover): void {
    this.applyRegistered(reg, tokenHashValue, thingGroups);
    this.record({ event: 'registration', registration: reg, tokenSha256: tokenHashValue, thingGroups });
    if (takeover) this.record({ event: 'takeover', takeover });
  }

  /** Replays the records file (a torn last line is ignored). Returns what a restarted stand-in reports again. */
  replay(): { registrations: Registration[]; takeovers: Takeover[] } {
    const registrations: Registration[] = [];
    const takeovers: Takeover[] = [];
    if (!this.recordsFile || !existsSync(this.recordsFile)) return { registrations, takeovers };
    for (const line of readFileSync(this.recordsFile, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (ev.event === 'certificate' && typeof ev.certificateId === 'string' && typeof ev.tokenSha256 === 'string') {
        const expiresAt = Date.parse(String(ev.tokenExpiresAt));
        this.applyIssued(ev.certificateId, ev.tokenSha256, String(ev.claimFingerprint ?? ''), expiresAt);
      } else if (ev.event === 'certificate' && typeof ev.certificateId === 'string') {
        // Records written before tokens were kept: the certificate is known and PENDING, its token is not.
        this.certs.set(ev.certificateId, {
          certificateId: ev.certificateId,
          status: 'PENDING_ACTIVATION',
          claimFingerprint: String(ev.claimFingerprint ?? ''),
        });
      } else if (ev.event === 'registration' && ev.registration) {
        const reg = ev.registration as Registration;
        const groups = Array.isArray(ev.thingGroups)
          ? (ev.thingGroups as string[])
          : reg.thingGroupName
            ? [reg.thingGroupName]
            : [];
        this.applyRegistered(reg, typeof ev.tokenSha256 === 'string' ? ev.tokenSha256 : '', groups);
        registrations.push(reg);
      } else if (ev.event === 'takeover' && ev.takeover) {
        takeovers.push(ev.takeover as Takeover);
      }
    }
    return { registrations, takeovers };
  }

  private applyIssued(certificateId: string, hash: string, claimFingerprint: string, expiresAt: number): void {
    if (!this.certs.has(certificateId))
      this.certs.set(certificateId, { certificateId, status: 'PENDING_ACTIVATION', claimFingerprint });
    this.tokens.set(hash, { certificateId, claimFingerprint, expiresAt, used: false });
  }

  private applyRegistered(reg: Registration, hash: string, thingGroups: string[]): void {
    const tok = this.tokens.get(hash);
    if (tok) tok.used = true;
    this.certs.set(reg.certificateId, {
      certificateId: reg.certificateId,
      status: 'ACTIVE',
      claimFingerprint: reg.claimFingerprint,
    });
    const thing = this.things.get(reg.thingName) ?? { thingName: reg.thingName, certificateIds: [], thingGroups: [] };
    if (!thing.certificateIds.includes(reg.certificateId)) thing.certificateIds.push(reg.certificateId);
    thing.thingGroups = thingGroups;
    this.things.set(reg.thingName, thing);
  }
}
