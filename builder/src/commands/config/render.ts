// `config render`: the installer config.yaml for FleetProvisioningByClaim (common/installer-config.ts).
import { writeFileAtomic } from '../../../../common/atomic-write.ts';
import { ConfigError } from '../../../../common/errors.ts';
import { makeClients, type Clients } from '../../aws.ts';
import { command } from '../../command.ts';
import type { Context } from '../../context.ts';
import {
  renderInstallerConfig,
  resolveInstallerSettings,
  withSettingsRegion,
  type ConfigFlags,
} from '../../installer-settings.ts';
import { CONFIG_OPTIONS, CONFIG_SETTINGS, SETTINGS_OPTION } from '../../options.ts';
import { loadSettings, pick, type SettingKinds } from '../../settings.ts';

export const CONFIG_RENDER_SETTINGS: SettingKinds = { ...CONFIG_SETTINGS, output: 'string' };

export interface ConfigRenderOptions extends ConfigFlags {
  settings?: string;
  output?: string;
}

export const configRenderCommand = command({
  command: 'render',
  describe: 'render the FleetProvisioningByClaim installer config.yaml',
  builder: (y) =>
    y
      .options(CONFIG_OPTIONS)
      .option('settings', SETTINGS_OPTION)
      .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' }),
}).runs(configRender);

export async function configRender(argv: ConfigRenderOptions, ctx: Context): Promise<void> {
  const settings = loadSettings(argv.settings, CONFIG_RENDER_SETTINGS);
  let clients: Clients | undefined;
  const s = await resolveInstallerSettings(
    argv,
    settings,
    ctx,
    () => (clients ??= makeClients(withSettingsRegion(ctx, settings))),
  );
  const text = renderInstallerConfig(s);
  const shown = s.proxyPassword ? { ...s, proxyPassword: '(set)' } : s;
  const out = pick<string>(argv, settings, 'output');
  if (out) {
    try {
      writeFileAtomic(out, text, s.proxyPassword ? 0o600 : 0o644);
    } catch (err) {
      throw new ConfigError(
        `cannot write --output ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        'output-unwritable',
        { cause: err },
      );
    }
    ctx.progress(`wrote ${out}`);
    ctx.result({ output: out, settings: shown }, [`installer config written to ${out}`]);
  } else if (ctx.json) {
    ctx.result({ config: text, settings: shown }, []);
  } else {
    process.stdout.write(text);
  }
}
