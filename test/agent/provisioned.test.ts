// "Already provisioned" as the nucleus decides it (DeviceConfiguration.isDeviceConfiguredToTalkToCloud, see
// docs/facts/nucleus-and-plugin.md): each missing or inconsistent piece makes the nucleus run the plugin again,
// so the agent must not take a system.thingName alone for a provisioned device. Unit checks of the rule, then the
// BUILT agent on a device whose config.tlog holds a ThingName and nothing else.
import t from 'tap';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityFromTlog } from '../../agent/src/provisioned.ts';
import { ensureBuilt, runAgent } from '../../harness/agent-exe.ts';
import { recordedNames, startWorld, stopDevice, worldRoot } from '../../harness/world.ts';

const N = 'services.aws.greengrass.Nucleus.configuration';
const COMPLETE: Record<string, string> = {
  'system.thingName': 'gg-store-0815',
  'system.certificateFilePath': '/greengrass/v2/thingCert.crt',
  'system.privateKeyPath': '/greengrass/v2/privKey.key',
  'system.rootCaPath': '/greengrass/v2/AmazonRootCA1.pem',
  [`${N}.iotDataEndpoint`]: 'abc123-ats.iot.eu-west-1.amazonaws.com',
  [`${N}.iotCredEndpoint`]: 'c1a2b3.credentials.iot.eu-west-1.amazonaws.com',
  [`${N}.awsRegion`]: 'eu-west-1',
};
const identity = (over: Record<string, string | undefined>) => {
  const m = new Map<string, unknown>(Object.entries({ ...COMPLETE, ...over }).filter(([, v]) => v !== undefined));
  return identityFromTlog(m);
};

t.test('every piece set and consistent: provisioned', async (t) => {
  t.same(identity({}), { thingName: 'gg-store-0815', problems: [] });
  t.same(
    identity({
      [`${N}.iotDataEndpoint`]: 'iot.example.internal',
      [`${N}.awsRegion`]: 'us-gov-west-1',
      [`${N}.iotCredEndpoint`]: 'creds.example.internal',
    }).problems,
    [],
    'endpoints outside .amazonaws. are not checked against the region',
  );
});

t.test('each missing piece: not provisioned, named', async (t) => {
  const names: Record<string, string> = {
    'system.thingName': 'thingName',
    'system.certificateFilePath': 'certificateFilePath',
    'system.privateKeyPath': 'privateKeyPath',
    'system.rootCaPath': 'rootCaPath',
    [`${N}.iotDataEndpoint`]: 'iotDataEndpoint',
    [`${N}.iotCredEndpoint`]: 'iotCredEndpoint',
    [`${N}.awsRegion`]: 'awsRegion',
  };
  for (const [key, name] of Object.entries(names)) {
    t.match(identity({ [key]: undefined }).problems, [new RegExp(`^${name} is not set`)], `${name} missing`);
    t.match(identity({ [key]: '  ' }).problems, [new RegExp(`^${name} is not set`)], `${name} blank`);
  }
  t.equal(identity({ 'system.thingName': undefined }).thingName, null);
});

t.test('inconsistent: a region that is not one, an endpoint of another region', async (t) => {
  t.match(identity({ [`${N}.awsRegion`]: 'europe' }).problems, [/awsRegion "europe" is not an AWS region/]);
  t.match(identity({ [`${N}.iotDataEndpoint`]: 'abc123-ats.iot.us-east-1.amazonaws.com' }).problems, [
    /iotDataEndpoint .* is not in region eu-west-1/,
  ]);
  t.match(identity({ [`${N}.iotCredEndpoint`]: 'c1.credentials.iot.us-east-1.amazonaws.com' }).problems, [
    /iotCredEndpoint .* is not in region eu-west-1/,
  ]);
});

t.test(
  'the BUILT agent on a device holding a ThingName only: it provisions (as the nucleus would), not "finishes"',
  async (t) => {
    ensureBuilt();
    const world = await startWorld();
    t.teardown(() => world.stop());
    const root = worldRoot(world, { hostname: 'gg-half-1' });
    t.teardown(async () => {
      await stopDevice(root);
      root.cleanup();
    });
    mkdirSync(join(root.ggRoot, 'config'), { recursive: true });
    writeFileSync(
      join(root.ggRoot, 'config', 'config.tlog'),
      `${JSON.stringify({ TS: Date.now() - 60_000, TP: ['system', 'thingName'], W: 'changed', V: 'gg-half-1' })}\n`,
    );
    const r = await runAgent(root, ['run']);
    t.equal(r.code, 0, r.stderr.slice(-3000));
    t.match(r.stderr, /records ThingName gg-half-1 but is not configured to talk to the cloud/);
    t.equal(world.prov.registrations.filter((x) => x.thingName === 'gg-half-1').length, 1, 'registered by the plugin');
    t.same(recordedNames(root), ['gg-half-1', 'gg-half-1'], 'the seeded name, then the one the plugin recorded');
    t.ok(existsSync(root.sentinel), 'sentinel written once provisioned');
  },
);
