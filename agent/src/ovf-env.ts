// The OVF environment document (DMTF DSP0243, "OVF Environment"): the XML a hypervisor hands a deployed VM with the
// values of the vApp properties its OVF declared. Only what names the core is read: the `Property` elements of the
// root `Environment`'s `PropertySection`, each `ovfenv:key` / `ovfenv:value`. Elements and attributes are matched by
// namespace URI and local name, never by prefix: vSphere writes `oe:`, other producers may bind any prefix (or the
// default namespace), and a `key` attribute in no namespace is not the spec's. Properties inside `Entity` elements
// belong to sibling VMs of a vApp and are not this machine's. saxes is a strict XML 1.0 + Namespaces parser: a
// document that is not well-formed, or uses an unbound prefix, is refused rather than half-read.
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { ConfigError } from '../../common/errors.ts';

export const OVF_ENV_NS = 'http://schemas.dmtf.org/ovf/environment/1';

/** An OVF environment larger than this is not one (vSphere's are a few KiB); refused before parsing. */
export const OVF_ENV_MAX_BYTES = 1024 * 1024;

export class OvfEnvError extends ConfigError {
  constructor(where: string, problem: string) {
    super(`the OVF environment from ${where} is not usable: ${problem}`, 'ovf-env-malformed');
  }
}

function attr(tag: SaxesTagNS, local: string): string | undefined {
  for (const a of Object.values(tag.attributes)) if (a.uri === OVF_ENV_NS && a.local === local) return a.value;
  return undefined;
}

/**
 * The properties of this VM's OVF environment, key → value, from the document's text. `where` names the transport
 * in errors. Throws OvfEnvError (exit 3, `ovf-env-malformed`) for a document that is not well-formed XML, is not an
 * OVF environment, has a Property without its key or value, or names one key twice (which value is meant?).
 */
export function parseOvfEnvironment(xml: string, where: string): Map<string, string> {
  if (Buffer.byteLength(xml) > OVF_ENV_MAX_BYTES)
    throw new OvfEnvError(where, `it is larger than ${OVF_ENV_MAX_BYTES} bytes`);
  const props = new Map<string, string>();
  // Path of open elements: only Environment > PropertySection > Property counts.
  const open: string[] = [];
  let sawRoot = false;
  const parser = new SaxesParser({ xmlns: true });
  parser.on('doctype', () => {
    // An OVF environment has no DTD; one could only declare entities to expand into the values.
    throw new Error('a DOCTYPE is not allowed in an OVF environment');
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    const name = tag.uri === OVF_ENV_NS ? tag.local : `{${tag.uri}}${tag.local}`;
    if (open.length === 0 && name !== 'Environment') {
      throw new Error(
        `its root element is ${tag.uri ? `{${tag.uri}}` : ''}${tag.local}, not Environment in namespace ${OVF_ENV_NS}`,
      );
    }
    open.push(name);
    sawRoot = true;
    if (open.length !== 3 || open[1] !== 'PropertySection' || name !== 'Property') return;
    const key = attr(tag, 'key');
    const value = attr(tag, 'value');
    if (key === undefined || value === undefined)
      throw new Error(`a Property has no ${key === undefined ? 'key' : 'value'} attribute in namespace ${OVF_ENV_NS}`);
    if (props.has(key)) throw new Error(`property ${JSON.stringify(key)} is given twice`);
    props.set(key, value);
  });
  parser.on('closetag', () => {
    open.pop();
  });
  try {
    parser.write(xml).close();
  } catch (err) {
    throw new OvfEnvError(where, sawRoot ? (err as Error).message : `it is not XML (${(err as Error).message})`);
  }
  return props;
}
