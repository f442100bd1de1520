// CSR mode in the installer config (common/installer-csr.ts): what the builder renders and what the plugin would
// refuse or silently ignore, refused here before an image is baked.
import t from 'tap';
import { EXAMPLE_SETTINGS } from '../helpers/installer-settings.ts';
import {
  fleetConfig,
  parseInstallerConfig,
  renderInstallerConfig,
  type InstallerSettings,
} from '../../common/installer-config.ts';
import { csrPaths, defaultCsrPaths } from '../../common/installer-csr.ts';

const settings: InstallerSettings = { ...EXAMPLE_SETTINGS };

t.test('CSR mode renders csrPath and csrPrivateKeyPath; the key goes where the nucleus reads it', async (t) => {
  const doc = parseInstallerConfig(renderInstallerConfig({ ...settings, ...defaultCsrPaths('/greengrass/v2/') }));
  const fleet = fleetConfig(doc);
  t.equal(fleet.csrPath, '/greengrass/v2/device.csr');
  t.equal(fleet.csrPrivateKeyPath, '/greengrass/v2/privKey.key', "the plugin's default privateKeyPath");
  t.same(csrPaths(fleet), { csrPath: '/greengrass/v2/device.csr', csrPrivateKeyPath: '/greengrass/v2/privKey.key' });
  t.equal(csrPaths(fleetConfig(parseInstallerConfig(renderInstallerConfig(settings)))), null, 'default: no CSR');
});

t.test('inconsistent CSR settings are refused with what is wrong', async (t) => {
  const cases: [Partial<InstallerSettings>, RegExp][] = [
    [{ csrPath: '/greengrass/v2/device.csr' }, /csrPath needs csrPrivateKeyPath/],
    [{ csrPrivateKeyPath: '/greengrass/v2/device.key' }, /csrPrivateKeyPath without csrPath/],
    [{ csrPath: 'device.csr', csrPrivateKeyPath: '/greengrass/v2/k' }, /csrPath must be an absolute path/],
    [{ csrPath: '/gg/x', csrPrivateKeyPath: '/gg/x' }, /csrPath and csrPrivateKeyPath must be different files/],
    [
      { csrPath: '/gg/d.csr', csrPrivateKeyPath: settings.claimCertificatePrivateKeyPath },
      /csrPrivateKeyPath must not be claimCertificatePrivateKeyPath/,
    ],
    [{ csrPath: '/greengrass/v2/thingCert.crt', csrPrivateKeyPath: '/gg/k' }, /csrPath must not be certificatePath/],
    [
      { csrPath: '/greengrass/v2/privKey.key', csrPrivateKeyPath: '/gg/k' },
      /csrPath must not be privateKeyPath \(\/greengrass\/v2\/privKey\.key\)/,
    ],
  ];
  for (const [extra, message] of cases) {
    t.throws(() => renderInstallerConfig({ ...settings, ...extra }), { name: 'ConfigError', message }, String(message));
  }
  // A hand-written template with a non-string csrPath is refused by the agent's parser too.
  const bad = `${renderInstallerConfig(settings).trimEnd()}\n      csrPath: [1]\n      csrPrivateKeyPath: "/gg/k"\n`;
  t.throws(() => parseInstallerConfig(bad), { message: /csrPath must be a path/ });
});
