// `config render`: the installer config.yaml for FleetProvisioningByClaim (common/installer-config.ts).
import { writeFileAtomic } from '../../../common/atomic-write.ts';
import { ConfigError } from '../../../common/errors.ts';
import { makeClients, type Clients } from '../aws.ts';
import type { Context } from '../context.ts';
import {
  renderInstallerConfig,
  resolveInstallerSettings,
  withSettingsRegion,
  CONFIG_SETTINGS,
} from '../installer-settings.ts';
import { loadSettings, type SettingKinds } from '../settings.ts';

export const CONFIG_RENDER_SETTINGS: SettingKinds = { ...CONFIG_SETTINGS, output: 'string' };

export async function configRender(argv: Record<string, unknown>, ctx: Context): Promise<void> {
  const settings = loadSettings(argv.settings as string | undefined, CONFIG_RENDER_SETTINGS);
  let clients: Clients | undefined;
  const s = await resolveInstallerSettings(
    argv,
    settings,
    ctx,
    () => (clients ??= makeClients(withSettingsRegion(ctx, settings))),
  );
  const text = renderInstallerConfig(s);
  const shown = s.proxyPassword ? { ...s, proxyPassword: '(set)' } : s;
  const out = (argv.output as string | undefined) ?? (settings.output as string | undefined);
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
