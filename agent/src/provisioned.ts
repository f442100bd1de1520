// "Already provisioned" as the nucleus decides it (docs/facts/nucleus-and-plugin.md: DeviceConfiguration's
// isDeviceConfiguredToTalkToCloud): the nucleus runs the provisioning plugin again at its next start unless the
// thing name, certificate path, private key path, root CA path, data and credential endpoints and region are all
// set (whitespace counts as empty), the region is a region, and an endpoint on an `.amazonaws.` domain names the
// region. A system.thingName alone does not make a device provisioned.
const NUCLEUS = 'services.aws.greengrass.Nucleus.configuration';

/** The config.tlog keys the nucleus requires, with the names its own message uses. */
const REQUIRED: ReadonlyArray<[key: string, name: string]> = [
  ['system.thingName', 'thingName'],
  ['system.certificateFilePath', 'certificateFilePath'],
  ['system.privateKeyPath', 'privateKeyPath'],
  ['system.rootCaPath', 'rootCaPath'],
  [`${NUCLEUS}.iotDataEndpoint`, 'iotDataEndpoint'],
  [`${NUCLEUS}.iotCredEndpoint`, 'iotCredEndpoint'],
  [`${NUCLEUS}.awsRegion`, 'awsRegion'],
];

/**
 * The nucleus checks the region against the AWS SDK's list; the agent carries no such list and checks the form
 * every AWS region name has (e.g. eu-west-1, us-gov-west-1, us-isob-east-1).
 */
const REGION_RE = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$/;

export interface NucleusIdentity {
  /** system.thingName, if set. */
  thingName: string | null;
  /** Why the nucleus would provision again; empty when it counts as provisioned. */
  problems: string[];
}

function text(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

export function identityFromTlog(values: Map<string, unknown>): NucleusIdentity {
  const problems: string[] = [];
  const get = (k: string) => text(values.get(k));
  for (const [key, name] of REQUIRED) if (get(key).trim() === '') problems.push(`${name} is not set`);
  const region = get(`${NUCLEUS}.awsRegion`).trim();
  if (region !== '' && !REGION_RE.test(region))
    problems.push(`awsRegion ${JSON.stringify(region)} is not an AWS region`);
  if (region !== '') {
    for (const [key, name] of [
      ['iotDataEndpoint', 'iotDataEndpoint'],
      ['iotCredEndpoint', 'iotCredEndpoint'],
    ] as const) {
      const endpoint = get(`${NUCLEUS}.${key}`);
      if (endpoint.includes('.amazonaws.') && !endpoint.includes(region))
        problems.push(`${name} ${endpoint} is not in region ${region}`);
    }
  }
  const thingName = get('system.thingName').trim() === '' ? null : get('system.thingName');
  return { thingName, problems };
}
