// The config.tlog lines a nucleus writes when its provisioning plugin succeeds: the identity under system and the
// endpoints and region in the Nucleus configuration, which together make the device "configured to talk to cloud"
// (docs/facts/nucleus-and-plugin.md). For tests that play the nucleus by writing its record themselves.
import { join } from 'node:path';

export function identityTlogLines(thingName: string, ggRoot: string, ts = Date.now()): string {
  const n = ['services', 'aws.greengrass.Nucleus', 'configuration'];
  const values: Array<[string[], string]> = [
    [['system', 'thingName'], thingName],
    [['system', 'certificateFilePath'], join(ggRoot, 'thingCert.crt')],
    [['system', 'privateKeyPath'], join(ggRoot, 'privKey.key')],
    [['system', 'rootCaPath'], join(ggRoot, 'AmazonRootCA1.pem')],
    [[...n, 'iotDataEndpoint'], 'abc123-ats.iot.eu-west-1.amazonaws.com'],
    [[...n, 'iotCredEndpoint'], 'c1a2b3.credentials.iot.eu-west-1.amazonaws.com'],
    [[...n, 'awsRegion'], 'eu-west-1'],
  ];
  return values.map(([TP, V]) => `${JSON.stringify({ TS: ts, TP, W: 'changed', V })}\n`).join('');
}
