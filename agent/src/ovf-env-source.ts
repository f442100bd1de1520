// The OVF environment as a ThingName source: the value of the vApp property `thingName.ovfProperty` (`thing-name`,
// the key the OVA declares) from the first transport that carries an environment, in the order cloud-init's OVF
// datasource uses:
//   1. VMware's guestinfo transport (`com.vmware.guestInfo`): `vmware-rpctool "info-get guestinfo.ovfEnv"`
//      (open-vm-tools ships vmware-rpctool in /usr/bin). No tool, not a VMware VM, or no value: no environment.
//   2. The ISO transport (DSP0243): `ovf-env.xml` in the root directory of an ISO 9660 image on a CD-ROM. Every
//      CD-ROM the kernel lists (`sr<N>` in /sys/class/block) is read in place (agent/src/iso9660.ts), not mounted.
// A transport that is absent is no error; a document that is there but unusable is (exit 3, `ovf-env-malformed`):
// the operator meant to name this machine, and naming it otherwise would be a guess.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import { applyFqdnMode } from '../../common/thing-name.ts';
import type { AgentConfig } from './agent-config.ts';
import { readIsoRootFile } from './iso9660.ts';
import { OVF_ENV_MAX_BYTES, OvfEnvError, parseOvfEnvironment } from './ovf-env.ts';

export const OVF_ENV_FILE = 'ovf-env.xml';

export interface OvfEnvDocument {
  xml: string;
  /** The transport, as logs show it: `guestinfo.ovfEnv` or `ovf-env.xml on /dev/sr0`. */
  where: string;
}

/** Found: the document. Absent: what was looked at and why nothing came of it, for the log. */
export type OvfEnvLookup = { found: OvfEnvDocument } | { found: null; looked: string[] };

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

function fromGuestinfo(cfg: AgentConfig): OvfEnvDocument | string {
  const tool = cfg.sources.vmwareRpctool;
  const r = spawnSync(tool, ['info-get guestinfo.ovfEnv'], {
    encoding: 'utf8',
    timeout: 10_000,
    maxBuffer: 2 * OVF_ENV_MAX_BYTES,
  });
  if (r.error) return `guestinfo.ovfEnv: ${errCode(r.error) === 'ENOENT' ? `${tool} not found` : r.error.message}`;
  // Exit 1 with "No value found" when unset; also what it does outside a VMware VM.
  if (r.status !== 0) return `guestinfo.ovfEnv: ${tool} exit ${r.status ?? r.signal}`;
  const xml = r.stdout.replace(/^\uFEFF/, '');
  if (xml.trim() === '') return 'guestinfo.ovfEnv: empty';
  return { xml, where: 'guestinfo.ovfEnv' };
}

/** The kernel's CD-ROM drives (`sr0`, `sr1`, … as SCSI CD-ROMs appear, including IDE/SATA ones under libata). */
function cdroms(cfg: AgentConfig): string[] {
  try {
    return readdirSync(cfg.sources.blockClassDir)
      .filter((n) => /^sr\d+$/.test(n))
      .sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));
  } catch {
    return [];
  }
}

function fromCdrom(cfg: AgentConfig, looked: string[]): OvfEnvDocument | null {
  const drives = cdroms(cfg);
  if (drives.length === 0) looked.push(`no CD-ROM drive in ${cfg.sources.blockClassDir}`);
  for (const name of drives) {
    const dev = join(cfg.sources.devDir, name);
    const where = `${OVF_ENV_FILE} on ${dev}`;
    let read;
    try {
      read = readIsoRootFile(dev, OVF_ENV_FILE, OVF_ENV_MAX_BYTES);
    } catch (err) {
      const code = errCode(err);
      // Not allowed to look (the drive is root:cdrom 0660; `check` run by a user): the environment may be on it, and
      // naming the machine otherwise would answer what `run` would not.
      if (code === 'EACCES' || code === 'EPERM')
        throw new ConfigError(
          `cannot read ${dev} (${code}), where the OVF environment may be: run as root`,
          'ovf-env-unreadable',
        );
      // ENOMEDIUM: an empty drive. Anything else that keeps us from reading it is reported in the log line.
      looked.push(`${dev}: ${code === 'ENOMEDIUM' ? 'no medium' : code}`);
      continue;
    }
    if (read.kind === 'not-iso9660') looked.push(`${dev}: not ISO 9660`);
    else if (read.kind === 'no-such-file') looked.push(`${dev}: no ${OVF_ENV_FILE}`);
    else if (read.kind === 'too-large')
      throw new OvfEnvError(where, `it is ${read.size} bytes, over ${OVF_ENV_MAX_BYTES}`);
    else {
      try {
        // DSP0243: the environment document is UTF-8. The decoder drops a byte-order mark.
        return { xml: new TextDecoder('utf-8', { fatal: true }).decode(read.data), where };
      } catch {
        throw new OvfEnvError(where, 'it is not UTF-8 text');
      }
    }
  }
  return null;
}

/** The first OVF environment document this machine was given, if any. */
export function findOvfEnvironment(cfg: AgentConfig): OvfEnvLookup {
  const looked: string[] = [];
  const g = fromGuestinfo(cfg);
  if (typeof g !== 'string') return { found: g };
  looked.push(g);
  const iso = fromCdrom(cfg, looked);
  return iso ? { found: iso } : { found: null, looked };
}

/** The candidate from the OVF environment, or why there is none (the configured source names the machine then). */
export type OvfCandidate = { value: string; raw: string; where: string } | { value: null; why: string };

export function ovfCandidate(cfg: AgentConfig): OvfCandidate {
  const key = cfg.thingName.ovfProperty;
  const env = findOvfEnvironment(cfg);
  if (!env.found) return { value: null, why: `no OVF environment (${env.looked.join('; ')})` };
  const props = parseOvfEnvironment(env.found.xml, env.found.where);
  const raw = props.get(key)?.trim();
  // vSphere lists every property the OVF declares; one the operator left blank arrives as an empty value.
  if (raw === undefined) return { value: null, why: `the OVF environment from ${env.found.where} has no ${key}` };
  if (raw === '') return { value: null, why: `${key} is empty in the OVF environment from ${env.found.where}` };
  return { value: applyFqdnMode(raw, cfg.thingName.fqdn), raw, where: env.found.where };
}
