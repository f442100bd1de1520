// Port 443 and proxies reach the nucleus: the plugin keeps its mqttPort and proxy settings for its own
// connection, so the nucleus block of the installer config must carry them too (the Greengrass guide's
// fleet-provisioning example). The proxy password never comes from the command line.
import t from 'tap';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { ExitCode } from '../../common/errors.ts';
import { fleetConfig, parseInstallerConfig } from '../../common/installer-config.ts';
import { ca, cliEnv, runCli, startAwsStandin, tmp, type AwsStandin } from './helpers.ts';

let s: AwsStandin;
t.before(async () => {
  s = await startAwsStandin({ ca });
});
t.teardown(() => s.close());

const ENDPOINTS = [
  '--iot-data-endpoint',
  'a1-ats.iot.eu-west-1.amazonaws.com',
  '--iot-cred-endpoint',
  'c1.credentials.iot.eu-west-1.amazonaws.com',
];
type Doc = { system?: Record<string, unknown>; services: Record<string, { configuration: Record<string, unknown> }> };

t.test('config render --mqtt-port 443 --proxy-url: nucleus mqtt.port, data plane 443, networkProxy', async (t) => {
  const dir = tmp('gg-port-proxy-');
  const out = join(dir, 'config.yaml');
  const r = await runCli(
    [
      'config',
      'render',
      ...ENDPOINTS,
      '--mqtt-port',
      '443',
      '--proxy-url',
      'http://proxy.branch.example:3128',
      '--proxy-username',
      'gg',
      '-o',
      out,
    ],
    cliEnv(s, { GREENGRASS_IMAGE_PROXY_PASSWORD: 'pa:ss@word' }),
  );
  t.equal(r.code, 0, r.stderr);
  const text = readFileSync(out, 'utf8');
  const doc = yaml.load(text) as Doc;
  t.same(doc.services['aws.greengrass.Nucleus'].configuration, {
    awsRegion: 'eu-west-1',
    iotRoleAlias: 'GreengrassCoreTokenExchangeRoleAlias',
    iotDataEndpoint: 'a1-ats.iot.eu-west-1.amazonaws.com',
    iotCredEndpoint: 'c1.credentials.iot.eu-west-1.amazonaws.com',
    mqtt: { port: 443 },
    greengrassDataPlanePort: 443,
    networkProxy: { proxy: { url: 'http://proxy.branch.example:3128', username: 'gg', password: 'pa:ss@word' } },
  });
  const plugin = fleetConfig(parseInstallerConfig(text));
  const want = {
    mqttPort: 443,
    proxyUrl: 'http://proxy.branch.example:3128',
    proxyUsername: 'gg',
    proxyPassword: 'pa:ss@word',
  };
  t.match(plugin, want, 'the plugin keeps them too');
  t.notOk(doc.system, 'an http proxy needs no system.rootCaPath');
  t.equal(statSync(out).mode & 0o777, 0o600, 'a config holding the proxy password is 0600');
  t.notMatch(r.stdout + r.stderr, /pa:ss@word/, 'the password is not echoed');
});

t.test('config render: another port leaves the data plane; an https proxy sets system.rootCaPath', async (t) => {
  const proxyUrl = 'https://proxy.branch.example:3129';
  const args = ['config', 'render', ...ENDPOINTS, '--mqtt-port', '8883', '--proxy-url', proxyUrl];
  const r = await runCli(args, cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  const doc = yaml.load(r.stdout) as Doc;
  const nucleus = doc.services['aws.greengrass.Nucleus'].configuration;
  t.same(nucleus.mqtt, { port: 8883 });
  t.equal(nucleus.greengrassDataPlanePort, undefined, 'data plane stays on its default unless MQTT is on 443');
  t.same(nucleus.networkProxy, { proxy: { url: 'https://proxy.branch.example:3129' } });
  t.same(doc.system, { rootCaPath: '/greengrass/v2/AmazonRootCA1.pem' }, 'root CA file (+ proxy CA) trusted');
});

t.test('a proxy password on the command line is refused; a username without a proxy is refused', async (t) => {
  let r = await runCli(['config', 'render', ...ENDPOINTS, '--proxy-url', 'http://gg:secret@proxy:3128'], cliEnv(s));
  t.equal(r.code, ExitCode.USAGE, r.stderr);
  t.match(r.stderr, /--proxy-url carries a password: put it in GREENGRASS_IMAGE_PROXY_PASSWORD/);
  r = await runCli(['config', 'render', ...ENDPOINTS, '--proxy-username', 'gg'], cliEnv(s));
  t.equal(r.code, ExitCode.USAGE, r.stderr);
  t.match(r.stderr, /--proxy-username and GREENGRASS_IMAGE_PROXY_PASSWORD need --proxy-url/);
});

t.test('build with an https proxy and no --proxy-ca: usage error before any AWS call', async (t) => {
  const before = s.requests.length;
  const dir = tmp('gg-port-proxy-build-');
  const r = await runCli(
    [
      'build',
      '--target',
      'qemu',
      '--env',
      'dev',
      '--proxy-url',
      'https://proxy:3129',
      '--output-dir',
      join(dir, 'out'),
    ],
    cliEnv(s, { TMPDIR: dir }),
  );
  t.equal(r.code, ExitCode.USAGE, r.stderr);
  t.match(r.stderr, /is an HTTPS proxy: pass --proxy-ca PATH/);
  t.equal(s.requests.length, before, 'no AWS call');
});

t.test('validate --config: a port or proxy set for the plugin only fails, naming the nucleus key', async (t) => {
  const dir = tmp('gg-port-proxy-validate-');
  const args = ['config', 'render', ...ENDPOINTS, '--mqtt-port', '443', '--proxy-url', 'http://proxy:3128'];
  const r = await runCli(args, cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  const doc = yaml.load(r.stdout) as Doc;
  doc.services['aws.greengrass.Nucleus'].configuration = { awsRegion: 'eu-west-1' };
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml.dump(doc, { forceQuotes: true }));
  const v = await runCli(['validate', '--config', file, '--json'], cliEnv(s));
  t.equal(v.code, ExitCode.CONFIG, v.stderr);
  const checks = (JSON.parse(v.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }).checks;
  const check = checks.find((c) => c.name === 'nucleus port and proxy match the plugin');
  t.equal(check?.ok, false);
  t.match(check?.detail, /mqtt\.port must be 443/);
  t.match(check?.detail, /greengrassDataPlanePort must be 443/);
  t.match(check?.detail, /networkProxy\.proxy\.url must match the plugin's proxyUrl/);
});
