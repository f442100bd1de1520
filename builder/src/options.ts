// Options more than one command takes, defined once (yargs option definitions; no yargs defaults where a
// settings file may fill the value), and the one convention for naming several things: thing names are
// arguments (`cores delete a b`); `--names a,b` is the older form, still accepted with a warning.
import type { Argv } from 'yargs';
import { DEFAULT_PATHS } from '../../common/installer-config.ts';
import { CSR_MIN_PLUGIN_VERSION } from '../../common/installer-csr.ts';
import { UsageError } from '../../common/errors.ts';
import { DEFAULT_SECRET_PREFIX, DEFAULT_THING_GROUP } from './claim-secret.ts';
import type { Context } from './context.ts';
import { DEFAULT_NUCLEUS_VERSION, DEFAULT_PROVISIONING_TEMPLATE, DEFAULT_ROLE_ALIAS } from './installer-settings.ts';
import { settingKinds, type SettingKinds } from './settings.ts';

/** On every command. */
export const GLOBAL_OPTIONS = {
  profile: { type: 'string', describe: 'AWS profile (default credential chain otherwise)' },
  region: { type: 'string', describe: 'AWS region (default: AWS_REGION / the profile)' },
  json: { type: 'boolean', describe: 'machine-readable JSON on stdout' },
} as const;

export const SETTINGS_OPTION = {
  type: 'string',
  describe: 'YAML settings file with the same keys as the flags',
} as const;

export const EVENTS_OPTION = {
  type: 'string',
  describe:
    'append one JSON line per operation to this file (default ./greengrass-image-events.jsonl or $GREENGRASS_IMAGE_EVENTS)',
} as const;

export const SECRET_PREFIX_OPTION = {
  type: 'string',
  describe: `claim secret prefix (default ${DEFAULT_SECRET_PREFIX})`,
} as const;

/** `fleet template validate` and `fleet deploy`. */
export const TEMPLATES_FILE_OPTION = {
  type: 'string',
  default: 'fleet-templates.yaml',
  describe: 'deployment templates YAML file',
} as const;

/** `claim create` and `claim rotate`. */
export const CLAIM_OPTIONS = {
  env: {
    type: 'string',
    demandOption: true,
    describe: 'environment name (secret <prefix>/<env>/claims-certificate)',
  },
  policy: {
    type: 'string',
    array: true,
    describe: 'IoT policy to attach to the claim certificate (repeatable)',
  },
  'secret-prefix': SECRET_PREFIX_OPTION,
} as const;

/** The installer config's settings: `config render`, `build` and `validate`. */
export const CONFIG_OPTIONS = {
  'iot-data-endpoint': {
    type: 'string',
    describe: 'iot:Data-ATS endpoint (discovered with DescribeEndpoint when not given)',
  },
  'iot-cred-endpoint': { type: 'string', describe: 'iot:CredentialProvider endpoint (discovered when not given)' },
  'role-alias': { type: 'string', describe: `token-exchange role alias (default ${DEFAULT_ROLE_ALIAS})` },
  'provisioning-template': {
    type: 'string',
    describe: `fleet provisioning template name (default ${DEFAULT_PROVISIONING_TEMPLATE})`,
  },
  'thing-group': { type: 'string', describe: `templateParameters.ThingGroupName (default ${DEFAULT_THING_GROUP})` },
  'template-param': { type: 'string', array: true, describe: 'extra templateParameters KEY=VALUE (repeatable)' },
  'nucleus-version': {
    type: 'string',
    describe: `nucleus version pinned in the config (default ${DEFAULT_NUCLEUS_VERSION})`,
  },
  'mqtt-port': { type: 'number', describe: 'MQTT port for provisioning (default: the plugin default 8883)' },
  'proxy-url': { type: 'string', describe: 'http(s) proxy URL for the plugin' },
  'proxy-username': {
    type: 'string',
    describe: 'proxy user name (the password: environment variable GREENGRASS_IMAGE_PROXY_PASSWORD)',
  },
  'root-path': { type: 'string', describe: `Greengrass root (default ${DEFAULT_PATHS.rootPath})` },
  csr: {
    type: 'boolean',
    describe: `CSR mode: each device makes its own key and a CSR at first boot; only the CSR goes to AWS (plugin >= ${CSR_MIN_PLUGIN_VERSION})`,
  },
} as const;

export const CONFIG_SETTINGS: SettingKinds = {
  ...settingKinds(CONFIG_OPTIONS),
  'template-param': 'key-values',
  region: 'string',
};

/** `build` and `validate`: Packer, the claim secret and the installer config they bake or check. */
export const IMAGE_OPTIONS = {
  packer: { type: 'string', describe: 'packer binary (default: packer on PATH)' },
  'secret-prefix': SECRET_PREFIX_OPTION,
  ...CONFIG_OPTIONS,
  settings: SETTINGS_OPTION,
} as const;

/** What a settings file may hold for `build` and `validate` besides each one's own options (never `settings`). */
export const IMAGE_SETTINGS: SettingKinds = { ...CONFIG_SETTINGS, packer: 'string', 'secret-prefix': 'string' };

/** `<names..>` (or `[names..]` when --count can stand in) and the deprecated `--names a,b`. */
export function namesArgument<T>(y: Argv<T>, what: string) {
  // One yargs key for both: the flag first, so that the positional's description is the one --help shows.
  return y.option('names', { type: 'string', array: true }).positional('names', {
    type: 'string',
    array: true,
    describe: `${what} thing names (--names a,b: deprecated, still accepted)`,
  });
}

/**
 * The names given: as arguments, or with the deprecated --names (a warning says so). yargs puts both under one
 * key and keeps only the arguments when both are given, so both together are refused rather than half-used.
 */
export function givenNames(names: string[] | undefined, ctx: Context): string[] | undefined {
  const flag = ctx.flagValues('--names', true);
  if (flag.length === 0) return names !== undefined && names.length > 0 ? names : undefined;
  if (names === undefined || names.length !== flag.length || names.some((n, i) => n !== flag[i]))
    throw new UsageError('give the names as arguments or with --names, not both');
  ctx.progress('warning: --names is deprecated: give the names as arguments (a b c)');
  // The older form is comma-separated (--names a,b).
  return names.flatMap((n) => n.split(',')).map((n) => n.trim());
}
