// The OVF 1.0 descriptor of the golden image's OVA, built and read back with fast-xml-parser (no string-built XML).
// What it declares and why (docs/ova.md): virtual hardware family vmx-14 (ESXi 6.7 and later), the guest OS type
// ubuntu64Guest (CIM id 94, "Ubuntu 64-Bit"), a VMware paravirtual SCSI controller and a vmxnet3 NIC (both driven by
// the in-tree Linux drivers vmw_pvscsi and vmxnet3), BIOS firmware (the qemu build boots the image with SeaBIOS, QEMU's
// default), and the vApp property `thing-name` delivered by both OVF environment transports (guestinfo and ISO).
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { BUILTIN_DENY, THING_NAME_MAX } from '../../../common/thing-name.ts';

export const NS = {
  ovf: 'http://schemas.dmtf.org/ovf/envelope/1',
  cim: 'http://schemas.dmtf.org/wbem/wscim/1/common',
  rasd: 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData',
  vssd: 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData',
  vmw: 'http://www.vmware.com/schema/ovf',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

export const STREAM_OPTIMIZED = 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized';
/** The vApp property the agent reads from the OVF environment (agreed with the agent's OVF-environment source). */
export const THING_NAME_PROPERTY = 'thing-name';
/** Both OVF environment transports vSphere offers: guestinfo.ovfEnv and an ovf-env.xml on a CD-ROM. */
export const OVF_TRANSPORT = 'com.vmware.guestInfo iso';
/** ESXi 6.7 is the oldest host that runs hardware version 14 (vSphere API, Hardware.Version VMX_14). */
export const DEFAULT_HARDWARE = 'vmx-14';

export type Firmware = 'bios' | 'efi';

export interface DescriptorInput {
  /** VM and VirtualSystem name (the disk file is <name>-disk1.vmdk). */
  name: string;
  disk: { href: string; fileSize: number; capacityBytes: number; populatedBytes: number };
  cpus: number;
  memoryMiB: number;
  firmware: Firmware;
  hardwareVersion?: string;
  network?: string;
  product?: { name: string; version: string; vendor: string };
}

/** The rules the agent applies to a ThingName (common/thing-name.ts), as the deploy wizard shows them. */
export function thingNameRules(): string {
  return [
    'AWS IoT thing name this Greengrass core registers as on first boot. Leave empty to use the VM hostname.',
    `Rules: at most ${THING_NAME_MAX} characters from A-Z a-z 0-9 _ -;`,
    "no dots (an FQDN is refused) and no ':';",
    `not ${BUILTIN_DENY.join(', ')} (any case), nor the template's own hostname.`,
    'A refused name stops first boot without registering anything (exit 3, see journalctl -u greengrass-firstboot).',
  ].join(' ');
}

type Node = Record<string, unknown>;
const attrs = (o: Record<string, string | number | boolean>): Node =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [`@_${k}`, String(v)]));
/** A rasd/vssd element list: the CIM schemas define them as sequences in alphabetical order. */
const rasd = (o: Record<string, string | number | boolean>, prefix = 'rasd'): Node =>
  Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [`${prefix}:${k}`, String(o[k])]),
  );

export function buildDescriptor(d: DescriptorInput): string {
  const hw = d.hardwareVersion ?? DEFAULT_HARDWARE;
  const network = d.network ?? 'VM Network';
  const product = d.product ?? { name: d.name, version: '', vendor: '' };
  const envelope: Node = {
    ...attrs({
      xmlns: NS.ovf,
      'xmlns:ovf': NS.ovf,
      'xmlns:cim': NS.cim,
      'xmlns:rasd': NS.rasd,
      'xmlns:vssd': NS.vssd,
      'xmlns:vmw': NS.vmw,
      'xmlns:xsi': NS.xsi,
      'ovf:version': '1.0',
    }),
    References: { File: attrs({ 'ovf:href': d.disk.href, 'ovf:id': 'file1', 'ovf:size': d.disk.fileSize }) },
    DiskSection: {
      Info: 'Virtual disk information',
      Disk: attrs({
        'ovf:capacity': d.disk.capacityBytes,
        'ovf:capacityAllocationUnits': 'byte',
        'ovf:diskId': 'vmdisk1',
        'ovf:fileRef': 'file1',
        'ovf:format': STREAM_OPTIMIZED,
        'ovf:populatedSize': d.disk.populatedBytes,
      }),
    },
    NetworkSection: {
      Info: 'The logical networks',
      Network: { ...attrs({ 'ovf:name': network }), Description: `The ${network} network` },
    },
    VirtualSystem: {
      ...attrs({ 'ovf:id': d.name }),
      Info: 'A Greengrass golden image: every clone provisions itself as a Greengrass core on first boot',
      Name: d.name,
      OperatingSystemSection: {
        ...attrs({ 'ovf:id': 94, 'vmw:osType': 'ubuntu64Guest' }),
        Info: 'The kind of installed guest operating system',
        Description: 'Ubuntu Linux (64-bit)',
      },
      ProductSection: {
        ...attrs({ 'ovf:required': false }),
        Info: 'Deploy-time settings read by greengrass-firstboot',
        Product: product.name,
        Vendor: product.vendor,
        Version: product.version,
        Category: 'Greengrass',
        Property: {
          ...attrs({
            'ovf:key': THING_NAME_PROPERTY,
            'ovf:type': 'string',
            'ovf:qualifiers': `MaxLen(${THING_NAME_MAX})`,
            'ovf:userConfigurable': true,
            'ovf:value': '',
          }),
          Label: 'ThingName',
          Description: thingNameRules(),
        },
      },
      VirtualHardwareSection: {
        ...attrs({ 'ovf:transport': OVF_TRANSPORT }),
        Info: 'Virtual hardware requirements',
        System: rasd(
          {
            ElementName: 'Virtual Hardware Family',
            InstanceID: 0,
            VirtualSystemIdentifier: d.name,
            VirtualSystemType: hw,
          },
          'vssd',
        ),
        Item: [
          rasd({
            AllocationUnits: 'hertz * 10^6',
            Description: 'Number of Virtual CPUs',
            ElementName: `${d.cpus} virtual CPU(s)`,
            InstanceID: 1,
            ResourceType: 3,
            VirtualQuantity: d.cpus,
          }),
          rasd({
            AllocationUnits: 'byte * 2^20',
            Description: 'Memory Size',
            ElementName: `${d.memoryMiB}MB of memory`,
            InstanceID: 2,
            ResourceType: 4,
            VirtualQuantity: d.memoryMiB,
          }),
          rasd({
            Address: 0,
            Description: 'SCSI Controller',
            ElementName: 'SCSI Controller 0',
            InstanceID: 3,
            ResourceSubType: 'VirtualSCSI',
            ResourceType: 6,
          }),
          rasd({
            AddressOnParent: 0,
            ElementName: 'Hard Disk 1',
            HostResource: 'ovf:/disk/vmdisk1',
            InstanceID: 4,
            Parent: 3,
            ResourceType: 17,
          }),
          rasd({
            AddressOnParent: 7,
            AutomaticAllocation: true,
            Connection: network,
            Description: `VmxNet3 ethernet adapter on "${network}"`,
            ElementName: 'Network adapter 1',
            InstanceID: 5,
            ResourceSubType: 'VmxNet3',
            ResourceType: 10,
          }),
          // The OVF environment's ISO transport: vSphere inserts the ovf-env.xml CD into this drive.
          rasd({
            Address: 0,
            Description: 'IDE Controller',
            ElementName: 'IDE Controller 0',
            InstanceID: 6,
            ResourceType: 5,
          }),
          rasd({
            AddressOnParent: 0,
            AutomaticAllocation: false,
            ElementName: 'CD/DVD drive 1',
            InstanceID: 7,
            Parent: 6,
            ResourceType: 15,
          }),
        ],
        'vmw:Config': attrs({ 'ovf:required': false, 'vmw:key': 'firmware', 'vmw:value': d.firmware }),
      },
    },
  };
  const builder = new XMLBuilder({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    format: true,
    indentBy: '  ',
    suppressEmptyNode: true,
    suppressBooleanAttributes: false,
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ Envelope: envelope }) as string}`;
}

/** What an importer reads from a descriptor (namespace prefixes ignored, as XML namespaces allow any). */
export interface ParsedDescriptor {
  envelopeNamespace: string | null;
  files: { href: string; id: string; size: number | null }[];
  disks: {
    diskId: string;
    fileRef: string;
    capacityBytes: number;
    populatedBytes: number | null;
    format: string;
  }[];
  name: string | null;
  osType: string | null;
  osId: string | null;
  hardwareVersion: string | null;
  transport: string | null;
  firmware: string | null;
  items: Record<string, string>[];
  properties: {
    key: string;
    type: string;
    userConfigurable: boolean;
    value: string;
    qualifiers: string | null;
    label: string | null;
    description: string | null;
  }[];
}

const list = (v: unknown): Node[] => (v === undefined ? [] : Array.isArray(v) ? (v as Node[]) : [v as Node]);
const text = (v: unknown): string | null => (v === undefined || v === null ? null : String(v));

/** CIM capacity units ("byte", "byte * 2^20", "byte * 1024^3" ...) to a byte multiplier. */
export function allocationUnits(units: string | null): number {
  if (!units || units.trim() === 'byte') return 1;
  const m = /^byte\s*\*\s*(\d+)\^(\d+)$/.exec(units.trim());
  if (!m) throw new Error(`unsupported capacityAllocationUnits ${JSON.stringify(units)}`);
  return Number(m[1]) ** Number(m[2]);
}

/** Parse an OVF descriptor; throws on XML that is not well-formed or that has no Envelope. */
export function parseDescriptor(xml: string): ParsedDescriptor {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
  });
  const raw = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseAttributeValue: false });
  const prefixed = raw.parse(xml, true) as Node;
  const rootKey = Object.keys(prefixed).find((k) => k === 'Envelope' || k.endsWith(':Envelope'));
  if (!rootKey) throw new Error('no Envelope element');
  const root = prefixed[rootKey] as Node;
  const prefix = rootKey.includes(':') ? rootKey.split(':')[0] : null;
  const envelopeNamespace = text(root[prefix ? `@_xmlns:${prefix}` : '@_xmlns']);

  const env = (parser.parse(xml) as Node).Envelope as Node;
  const vs = list(env.VirtualSystem)[0] ?? {};
  const os = (vs.OperatingSystemSection ?? {}) as Node;
  const vhs = (vs.VirtualHardwareSection ?? {}) as Node;
  const system = (vhs.System ?? {}) as Node;
  const firmware = list(vhs.Config).find((c) => c['@_key'] === 'firmware');
  return {
    envelopeNamespace,
    files: list((env.References as Node | undefined)?.File).map((f) => ({
      href: String(f['@_href']),
      id: String(f['@_id']),
      size: f['@_size'] === undefined ? null : Number(f['@_size']),
    })),
    disks: list((env.DiskSection as Node | undefined)?.Disk).map((d) => ({
      diskId: String(d['@_diskId']),
      fileRef: String(d['@_fileRef']),
      capacityBytes: Number(d['@_capacity']) * allocationUnits(text(d['@_capacityAllocationUnits'])),
      populatedBytes: d['@_populatedSize'] === undefined ? null : Number(d['@_populatedSize']),
      format: String(d['@_format']),
    })),
    name: text(vs.Name),
    osType: text(os['@_osType']),
    osId: text(os['@_id']),
    hardwareVersion: text(system.VirtualSystemType),
    transport: text(vhs['@_transport']),
    firmware: firmware ? text(firmware['@_value']) : null,
    items: list(vhs.Item).map((i) => Object.fromEntries(Object.entries(i).map(([k, v]) => [k, String(v)]))),
    properties: list(vs.ProductSection).flatMap((ps) =>
      list(ps.Property).map((p) => ({
        key: String(p['@_key']),
        type: String(p['@_type']),
        userConfigurable: p['@_userConfigurable'] === 'true',
        value: String(p['@_value'] ?? ''),
        qualifiers: text(p['@_qualifiers']),
        label: text(p.Label),
        description: text(p.Description),
      })),
    ),
  };
}
