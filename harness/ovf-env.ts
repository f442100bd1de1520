// OVF environment documents and their transports, as a hypervisor would give them to a clone (tap-free, shared):
// the document vSphere writes (DMTF DSP0243's Environment, vSphere's `oe:`/`ve:` prefixes and sections), the ISO
// transport's CD image (`ovf-env.xml` in the root of an ISO 9660 image, made with Debian's genisoimage), and both
// transports laid into a device root (a fake vmware-rpctool answering `guestinfo.ovfEnv`; a CD-ROM drive `sr<N>`).
// The documents are written as text on purpose: tests need byte-exact variants (other prefixes, malformed ones),
// so attribute values are escaped here and nothing else is templated.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFakeRpctool, type DeviceRoot } from './device-root.ts';

export const OVF_ENV_NS = 'http://schemas.dmtf.org/ovf/environment/1';
export const VMWARE_OVFENV_NS = 'http://www.vmware.com/schema/ovfenv';

/** Escapes text for a double-quoted XML attribute value (XML 1.0 §2.3, §3.3.3: tabs and newlines as references). */
export function xmlAttr(value: string): string {
  return value.replace(
    /[&<>"\t\n\r]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? `&#${c.charCodeAt(0)};`,
  );
}

export interface OvfEnvOptions {
  /** Prefix bound to the OVF environment namespace on Property attributes (vSphere: `oe`). */
  prefix?: string;
  /** Properties of a sibling VM of the vApp (an `Entity` element): never this machine's. */
  sibling?: Record<string, string>;
}

/** An OVF environment shaped as vSphere writes it (platform, properties, VMware's adapter section). */
export function ovfEnvironmentXml(properties: Record<string, string>, opts: OvfEnvOptions = {}): string {
  const p = opts.prefix ?? 'oe';
  const props = (o: Record<string, string>, indent: string): string =>
    Object.entries(o)
      .map(([k, v]) => `${indent}<Property ${p}:key="${xmlAttr(k)}" ${p}:value="${xmlAttr(v)}"/>`)
      .join('\n');
  const sibling = opts.sibling
    ? `\n   <Entity ${p}:id="sibling-vm">\n      <PropertySection>\n${props(opts.sibling, '         ')}\n      </PropertySection>\n   </Entity>`
    : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<Environment
     xmlns="${OVF_ENV_NS}"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xmlns:${p}="${OVF_ENV_NS}"
     xmlns:ve="${VMWARE_OVFENV_NS}"
     ${p}:id=""
     ve:vCenterId="vm-1042">
   <PlatformSection>
      <Kind>VMware ESXi</Kind>
      <Version>7.0.3</Version>
      <Vendor>VMware, Inc.</Vendor>
      <Locale>en</Locale>
   </PlatformSection>
   <PropertySection>
${props(properties, '      ')}
   </PropertySection>
   <ve:EthernetAdapterSection>
      <ve:Adapter ve:mac="00:50:56:8a:01:02" ve:network="VM Network" ve:unitNumber="7"/>
   </ve:EthernetAdapterSection>${sibling}
</Environment>
`;
}

/**
 * Writes an ISO 9660 image at `isoPath` holding `xml` as `ovf-env.xml` in its root directory (the ISO transport),
 * with Rock Ridge and Joliet names as mastering tools usually add them. Needs genisoimage (scripts/setup.sh).
 */
export function makeOvfEnvIso(isoPath: string, xml: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'ovf-env-iso-'));
  try {
    writeFileSync(join(dir, 'ovf-env.xml'), xml);
    execFileSync(
      'genisoimage',
      ['-quiet', '-output', isoPath, '-volid', 'OVF ENV', '-rational-rock', '-joliet', '-input-charset', 'utf-8', dir],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return isoPath;
}

/** The ISO transport's CD image for a clone whose ThingName the `thing-name` vApp property gives. */
export function ovfEnvIsoForThingName(isoPath: string, thingName: string): string {
  return makeOvfEnvIso(isoPath, ovfEnvironmentXml({ 'thing-name': thingName }));
}

/** Puts `image` (an ISO file, or any bytes) in the device root's CD-ROM drive `drive` (`sr0`: /sys and /dev entries). */
export function insertCdrom(root: DeviceRoot, image: string | Buffer, drive = 'sr0'): void {
  mkdirSync(join(root.agent.sources.blockClassDir, drive), { recursive: true });
  mkdirSync(root.agent.sources.devDir, { recursive: true });
  const dev = join(root.agent.sources.devDir, drive);
  if (typeof image === 'string') copyFileSync(image, dev);
  else writeFileSync(dev, image);
}

/** The guestinfo transport: vmware-rpctool answers `info-get guestinfo.ovfEnv` with `xml` (plus other keys). */
export function setGuestinfoOvfEnv(root: DeviceRoot, xml: string, other: Record<string, string> = {}): void {
  writeFakeRpctool(root, { ...other, ovfEnv: xml });
}

/**
 * QEMU arguments attaching `iso` as a read-only CD-ROM on the `pc` machine's IDE controller (the machine
 * offline/qemu.ts boots clones with); the guest sees it as /dev/sr0 (ata_piix and sr_mod, loaded by udev).
 */
export function ovfEnvCdromQemuArgs(iso: string): string[] {
  return ['-drive', `file=${iso.replaceAll(',', ',,')},if=ide,index=2,media=cdrom,readonly=on,format=raw`];
}
