// The OVF 1.0 descriptor of the golden image's OVA, built with fast-xml-parser (no string-built XML); read back as
// an importer reads it in descriptor-read.ts.
// What it declares and why (docs/ova.md): virtual hardware family vmx-14 (ESXi 6.7 and later), the guest OS type
// ubuntu64Guest (CIM id 94, "Ubuntu 64-Bit"), a VMware paravirtual SCSI controller and a vmxnet3 NIC (both driven by
// the in-tree Linux drivers vmw_pvscsi and vmxnet3), BIOS firmware (the qemu build boots the image with SeaBIOS, QEMU's
// default), and the vApp property `thing-name` delivered by both OVF environment transports (guestinfo and ISO).
import { XMLBuilder } from 'fast-xml-parser';
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
