// `config render`: the installer config.yaml for FleetProvisioningByClaim (common/installer-config.ts).
import { writeFileAtomic } from '../../../common/atomic-write.ts';
import { makeClients, type Clients } from '../aws.ts';
import type { Context } from '../context.ts';
import { renderInstallerConfig, resolveInstallerSettings, CONFIG_KEYS } from '../installer-settings.ts';
import { loadSettings } from '../settings.ts';

export const CONFIG_RENDER_KEYS = [...CONFIG_KEYS, 'output'];

export async function configRender(argv: Record<string, unknown>, ctx: Context): Promise<void> {
  const settings = loadSettings(argv.settings as string | undefined, CONFIG_RENDER_KEYS);
  let clients: Clients | undefined;
  const s = await resolveInstallerSettings(argv, settings, ctx, () => (clients ??= makeClients(ctx)));
  const text = renderInstallerConfig(s);
  const out = (argv.output as string | undefined) ?? (settings.output as string | undefined);
  if (out) {
    writeFileAtomic(out, text, 0o644);
    ctx.progress(`wrote ${out}`);
    ctx.result({ output: out, settings: s }, [`installer config written to ${out}`]);
  } else if (ctx.json) {
    ctx.result({ config: text, settings: s }, []);
  } else {
    process.stdout.write(text);
  }
}
