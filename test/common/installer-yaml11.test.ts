// The nucleus reads the installer config with Jackson (YAML 1.1 typing of plain scalars). Names that YAML 1.1
// reads as numbers, booleans or null must reach it as strings: every string the builder or the agent writes
// into installer YAML is quoted.
import t from 'tap';
import { EXAMPLE_SETTINGS } from '../helpers/installer-settings.ts';
import { readFileSync } from 'node:fs';
import {
  dumpInstallerConfig,
  fillTemplateParameters,
  FLEET_PLUGIN_COMPONENT,
  parseInstallerConfig,
  renderInstallerConfig,
  type InstallerSettings,
} from '../../common/installer-config.ts';
import { renderManualInstallerConfig } from '../../common/manual-installer-config.ts';
import { loadAsNucleus } from '../../common/yaml11.ts';
import { createDeviceRoot } from '../../harness/device-root.ts';
import { loadTemplate, writeRenderedConfig } from '../../agent/src/installer-config.ts';

/** Names a YAML 1.1 reader takes for numbers, booleans or null when they are written unquoted. */
const YAML11_NAMES = ['123_456', '0x1F', '1e3', 'yes', 'off', 'null', '~', 'On', '0b101', '012', '1_0.5'];

const settings: InstallerSettings = { ...EXAMPLE_SETTINGS, mqttPort: 443 };

/** The keys whose values are numbers (ports). */
const NUMERIC = ['mqttPort', 'port', 'greengrassDataPlanePort'];

type Doc = {
  services: Record<string, { configuration?: Record<string, unknown>; version?: unknown }>;
  system?: Record<string, unknown>;
};
const param = (cfg: Record<string, unknown>, k: string) => (cfg.templateParameters as Record<string, unknown>)[k];
const plugin = (text: string) => (loadAsNucleus(text) as Doc).services[FLEET_PLUGIN_COMPONENT].configuration!;

/** Every `key: value` line whose value is a scalar: the value is double-quoted unless it is one of `numeric`. */
function unquotedStrings(text: string, numeric: string[]): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(?:- )?([^:"]+|"[^"]*"): (.+)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m;
    if (numeric.includes(key) && /^\d+$/.test(value)) continue;
    if (!/^".*"$/.test(value)) out.push(line.trim());
  }
  return out;
}

t.test('the YAML 1.1 reader of the checks types plain scalars as the nucleus does, quoted as strings', async (t) => {
  const read = loadAsNucleus(
    'a: 123_456\nb: 0x1F\nc: 1e3\nd: yes\ne: off\nf: null\ng: ~\n' +
      'h: "123_456"\ni: 1:20\nj: gg-clone-7\nk: 012\nl: On\nm: 0b101\n',
  );
  t.same(read, {
    a: 123456,
    b: 31,
    c: 1000,
    d: true,
    e: false,
    f: null,
    g: null,
    h: '123_456',
    i: '1:20',
    j: 'gg-clone-7',
    k: 10,
    l: true,
    m: 5,
  });
});

t.test('builder: every string in the rendered installer config is quoted; YAML 1.1 names stay strings', async (t) => {
  for (const name of YAML11_NAMES) {
    const proxy = { proxyUrl: 'http://proxy:3128', proxyUsername: name };
    const text = renderInstallerConfig({ ...settings, templateParameters: { ThingGroupName: name }, ...proxy });
    t.same(unquotedStrings(text, NUMERIC), [], `${name}: no plain string scalar`);
    const cfg = plugin(text);
    t.equal(param(cfg, 'ThingGroupName'), name, `${name}: ThingGroupName read as the string`);
    t.equal(cfg.proxyUsername, name, `${name}: proxyUsername read as the string`);
    t.equal(cfg.mqttPort, 443, 'numbers stay numbers');
  }
});

t.test('builder: the filled config (dumpInstallerConfig) keeps every YAML 1.1 ThingName a string', async (t) => {
  const template = parseInstallerConfig(renderInstallerConfig(settings));
  for (const name of YAML11_NAMES) {
    const text = dumpInstallerConfig(fillTemplateParameters(template, { thingName: name }));
    t.equal((plugin(text).templateParameters as Record<string, unknown>).ThingName, name, `${name}`);
    t.same(unquotedStrings(text, NUMERIC), [], `${name}: no plain string scalar`);
  }
});

t.test('cores create: the MANUAL installer config keeps a YAML 1.1 thing name a string', async (t) => {
  for (const name of ['123_456', '1e3', 'yes', 'null']) {
    const text = renderManualInstallerConfig({
      thingName: name,
      nucleusVersion: '2.16.0',
      awsRegion: 'eu-west-1',
      iotDataEndpoint: settings.iotDataEndpoint,
      iotCredentialEndpoint: settings.iotCredentialEndpoint,
      iotRoleAlias: 'GreengrassCoreTokenExchangeRoleAlias',
      mqttPort: 443,
      greengrassDataPlanePort: 443,
    });
    t.equal((loadAsNucleus(text) as Doc).system?.thingName, name, `${name}`);
    t.same(unquotedStrings(text, NUMERIC), [], `${name}: no plain string scalar`);
  }
});

t.test('agent: the config it fills for hostname 123_456 is read by the nucleus with ThingName "123_456"', async (t) => {
  for (const name of ['123_456', '0x1F', '1e3']) {
    const root = createDeviceRoot({ hostname: name });
    t.teardown(() => root.cleanup());
    const tpl = loadTemplate(root.agent, name);
    writeRenderedConfig(root.agent, tpl.filled);
    const text = readFileSync(root.renderedConfig, 'utf8');
    t.equal(param(plugin(text), 'ThingName'), name, `${name}: a string under YAML 1.1 rules`);
    t.same(unquotedStrings(text, NUMERIC), [], `${name}: no plain string scalar`);
  }
});
