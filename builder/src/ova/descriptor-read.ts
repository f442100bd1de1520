// Reading an OVF descriptor as an importer does (the OVA check reads back what descriptor.ts wrote): namespace
// prefixes ignored, capacities in bytes, the vApp properties and the hardware items as plain records.
import { XMLParser } from 'fast-xml-parser';

type Node = Record<string, unknown>;

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
