// `config render --csr` / settings `csr: true` and `build --csr`: the installer config for CSR mode (the device keeps a
// key it made itself), and the combinations refused before any AWS call.
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fleetConfig, parseInstallerConfig } from '../../common/installer-config.ts';
import { ExitCode } from '../../common/errors.ts';
import { ca, cliEnv, runCli, startAwsStandin, tmp, type AwsStandin } from './helpers.ts';

let s: AwsStandin;
t.before(async () => {
  s = await startAwsStandin({
    ca,
    endpoints: {
      region: 'eu-west-1',
      iotDataEndpoint: 'a1-ats.iot.eu-west-1.amazonaws.com',
      iotCredEndpoint: 'c1.credentials.iot.eu-west-1.amazonaws.com',
    },
  });
});
t.teardown(() => s.close());

t.test('config render --csr: the plugin gets csrPath and csrPrivateKeyPath under the root', async (t) => {
  const r = await runCli(['config', 'render', '--csr'], cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  const fleet = fleetConfig(parseInstallerConfig(r.stdout));
  t.equal(fleet.csrPath, '/greengrass/v2/device.csr');
  t.equal(fleet.csrPrivateKeyPath, '/greengrass/v2/privKey.key');

  const other = await runCli(['config', 'render', '--csr', '--root-path', '/opt/gg'], cliEnv(s));
  t.equal(other.code, 0, other.stderr);
  t.match(fleetConfig(parseInstallerConfig(other.stdout)), {
    csrPath: '/opt/gg/device.csr',
    csrPrivateKeyPath: '/opt/gg/privKey.key',
  });

  const plain = await runCli(['config', 'render'], cliEnv(s));
  t.equal(plain.code, 0, plain.stderr);
  t.notMatch(plain.stdout, /csr/i, 'without --csr: AWS makes the key (CreateKeysAndCertificate)');
});

t.test('settings file csr: true is CSR mode; --no-csr on the command line wins', async (t) => {
  const dir = tmp('gg-csr-settings-');
  const settings = join(dir, 'settings.yaml');
  writeFileSync(settings, 'csr: true\n');
  const r = await runCli(['config', 'render', '--settings', settings], cliEnv(s));
  t.equal(r.code, 0, r.stderr);
  t.equal(fleetConfig(parseInstallerConfig(r.stdout)).csrPath, '/greengrass/v2/device.csr');
  const off = await runCli(['config', 'render', '--settings', settings, '--no-csr'], cliEnv(s));
  t.equal(off.code, 0, off.stderr);
  t.equal(fleetConfig(parseInstallerConfig(off.stdout)).csrPath, undefined);

  writeFileSync(settings, 'csr: "yes"\n');
  const typed = await runCli(['config', 'render', '--settings', settings], cliEnv(s));
  t.equal(typed.code, ExitCode.CONFIG, typed.stderr);
  t.match(typed.stderr, /csr must be true or false/);
});

t.test('build --csr with a plugin older than 1.2.0 is refused before any AWS call', async (t) => {
  const dir = tmp('gg-csr-build-');
  const out = join(dir, 'out');
  s.requests.length = 0;
  const r = await runCli(
    ['build', '--target', 'qemu', '--env', 'dev', '--csr', '--plugin-version', '1.1.0', '--output-dir', out],
    cliEnv(s),
  );
  t.equal(r.code, ExitCode.USAGE, r.stderr);
  t.match(r.stderr, /--csr needs FleetProvisioningByClaim 1\.2\.0 or later \(csrPath is ignored by 1\.1\.0/);
  t.equal(s.requests.length, 0, 'no AWS call');
  t.notOk(existsSync(out), 'no output dir');
});
