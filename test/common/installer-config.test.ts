import t from 'tap';
import { EXAMPLE_SETTINGS } from '../helpers/installer-settings.ts';
import yaml from 'js-yaml';
import {
  renderInstallerConfig,
  parseInstallerConfig,
  fillTemplateParameters,
  fleetConfig,
  THING_NAME_PLACEHOLDER,
  type InstallerSettings,
} from '../../common/installer-config.ts';

const settings: InstallerSettings = { ...EXAMPLE_SETTINGS, templateParameters: { ThingGroupName: 'branch-offices' } };

t.test('rendered config parses back and carries the ThingName placeholder', async (t) => {
  const text = renderInstallerConfig(settings);
  const doc = parseInstallerConfig(text);
  t.equal(doc.services['aws.greengrass.Nucleus'].version, '2.16.0');
  t.same(fleetConfig(doc).templateParameters, { ThingName: THING_NAME_PLACEHOLDER, ThingGroupName: 'branch-offices' });
});

t.test('filling writes hostile names as plain YAML strings', async (t) => {
  const doc = parseInstallerConfig(renderInstallerConfig(settings));
  const nasty = 'a: b\n- c # "d" \'e\' {f}';
  const out = yaml.dump(fillTemplateParameters(doc, { thingName: nasty }));
  const back = parseInstallerConfig(out);
  t.equal(fleetConfig(back).templateParameters?.ThingName, nasty);
  t.equal(fleetConfig(doc).templateParameters?.ThingName, THING_NAME_PLACEHOLDER, 'input not modified');
});

t.test('invalid configs list every problem', async (t) => {
  t.throws(() => parseInstallerConfig('services: [1'), { name: 'ConfigError', reason: 'installer-config-yaml' });
  const bad = yaml.dump({
    services: {
      'aws.greengrass.Nucleus': { version: 'latest' },
      'aws.greengrass.FleetProvisioningByClaim': { configuration: { rootPath: 'relative' } },
    },
  });
  const err = (() => {
    try {
      parseInstallerConfig(bad);
    } catch (e) {
      return e as Error;
    }
  })();
  t.match(err?.message, /version must pin/);
  t.match(err?.message, /provisioningTemplate is required/);
  t.match(err?.message, /rootPath must be an absolute path/);
  t.throws(
    () => renderInstallerConfig({ ...settings, iotDataEndpoint: 'abc-ats.iot.us-east-1.amazonaws.com' }),
    /not in region eu-west-1/,
  );
});

t.test('a template without the ThingName placeholder is refused', async (t) => {
  const doc = parseInstallerConfig(renderInstallerConfig(settings));
  fleetConfig(doc).templateParameters = { ThingName: 'fixed' };
  t.throws(() => fillTemplateParameters(doc, { thingName: 'x' }), {
    name: 'ConfigError',
    reason: 'installer-config-no-thing-name',
  });
});
