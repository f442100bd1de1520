// OVF environment documents the OVF-environment tests feed the agent (shared by test/agent/ovf-env*.test.ts and
// test/agent/ovflib.test.ts, which checks that VMware's own parser reads the good ones as the agent does).
import { ovfEnvironmentXml, OVF_ENV_NS, VMWARE_OVFENV_NS } from '../../harness/ovf-env.ts';

/** Well-formed OVF environments (DSP0243), as vSphere and other producers write them. */
export const GOOD: Record<string, string> = {
  'vSphere, thing-name set': ovfEnvironmentXml({ 'thing-name': 'store-0815-edge', 'instance-id': 'i-42' }),
  'vSphere, thing-name left blank': ovfEnvironmentXml({ 'thing-name': '' }),
  'vSphere, no thing-name': ovfEnvironmentXml({ 'instance-id': 'i-42' }),
  'another prefix for the namespace': ovfEnvironmentXml({ 'thing-name': 'edge-ovfenv-1' }, { prefix: 'ovfenv' }),
  'escaped characters in values': ovfEnvironmentXml({ note: 'a & b < "c"\n', 'thing-name': 'edge-2' }),
  'a sibling VM in the vApp': ovfEnvironmentXml({ 'thing-name': 'edge-3' }, { sibling: { 'thing-name': 'other' } }),
  'minimal, no PropertySection': `<Environment xmlns="${OVF_ENV_NS}"/>`,
  // The shape govc import.ova writes into guestinfo.ovfEnv with "InjectOvfEnv": true (govmomi ovf/env.go):
  // no whitespace between elements, ve:esxId, the platform's locale "US".
  'govc InjectOvfEnv on a standalone ESXi host': [
    '<?xml version="1.0" encoding="UTF-8"?>\n<Environment',
    `xmlns="${OVF_ENV_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:oe="${OVF_ENV_NS}"`,
    `xmlns:ve="${VMWARE_OVFENV_NS}" oe:id="" ve:esxId="vm-42"><PlatformSection><Kind>VMware ESXi</Kind>`,
    '<Version>6.7.0</Version><Vendor>VMware, Inc.</Vendor><Locale>US</Locale></PlatformSection><PropertySection>',
    '<Property oe:key="thing-name" oe:value="edge-govc-1"/></PropertySection></Environment>',
  ].join(' '),
  'character references and non-ASCII UTF-8': ovfEnvironmentXml({
    'thing-name': 'edge-4',
    site: 'K\u00f6ln',
  }).replace('edge-4', '&#101;dge-4'),
};

const named = ovfEnvironmentXml({ 'thing-name': 'edge-1' });

/** Documents that are not well-formed XML: the agent refuses them, and so does VMware's parser. */
export const NOT_XML: Record<string, string> = {
  'unclosed element': named.replace('</Environment>', ''),
  'not XML': 'thing-name=edge-1\n',
  'mismatched end tag': named.replace('</PropertySection>', '</PropertySectio>'),
};

/**
 * Documents the agent refuses although VMware's parser (which reads the first element, matches names without their
 * namespace and keeps the last of two values) reads properties from them: each is ambiguous or not an OVF
 * environment, and a ThingName is not guessed from such a document.
 */
export const REFUSED_BY_THE_AGENT_ONLY: Record<string, string> = {
  'another root element': '<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>',
  'key not in the OVF environment namespace': named.replace('oe:key=', 'key='),
  'thing-name given twice': named.replace(
    '</PropertySection>',
    '<Property oe:key="thing-name" oe:value="edge-2"/></PropertySection>',
  ),
  'a DOCTYPE': named.replace('<Environment', '<!DOCTYPE Environment [<!ENTITY n "edge-1">]>\n<Environment'),
  'text after the document': `${named}garbage`,
};

export const MALFORMED: Record<string, string> = { ...NOT_XML, ...REFUSED_BY_THE_AGENT_ONLY };
