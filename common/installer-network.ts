// Port and proxy settings in the installer config. The FleetProvisioningByClaim plugin uses its own mqttPort
// and proxy settings for its provisioning connection only and hands the nucleus just endpoints, region and
// role alias (facts and sources: docs/facts/installer-config.md). The nucleus block must carry the same
// port and proxy, or a core that provisioned where only 443 or a proxy is open cannot connect afterwards.

export interface PluginNetworkSettings {
  mqttPort?: number;
  proxyUrl?: string;
  proxyUsername?: string;
  proxyPassword?: string;
}

export const httpsProxy = (url: string | undefined): boolean => typeof url === 'string' && url.startsWith('https://');

/**
 * The nucleus configuration keys for the plugin's port and proxy: `mqtt.port`, `greengrassDataPlanePort: 443`
 * with MQTT on 443 (a 443-only site closes 8443 too; the Greengrass guide's example sets both) and
 * `networkProxy.proxy.{url,username,password}`.
 */
export function nucleusNetworkConfig(cfg: PluginNetworkSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (cfg.mqttPort !== undefined) out.mqtt = { port: cfg.mqttPort };
  if (cfg.mqttPort === 443) out.greengrassDataPlanePort = 443;
  if (cfg.proxyUrl !== undefined) {
    out.networkProxy = {
      proxy: {
        url: cfg.proxyUrl,
        ...(cfg.proxyUsername !== undefined ? { username: cfg.proxyUsername } : {}),
        ...(cfg.proxyPassword !== undefined ? { password: cfg.proxyPassword } : {}),
      },
    };
  }
  return out;
}

const lower = (o: unknown): Record<string, unknown> =>
  o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v])) : {};

/**
 * Where a nucleus configuration block (`nucleusPath` names it in messages) does not carry the plugin's
 * port or proxy; empty = consistent. Key case is ignored as the nucleus ignores it (the guide spells
 * `proxyUserName`).
 */
export function nucleusMirrorProblems(plugin: unknown, nucleus: unknown, nucleusPath: string): string[] {
  const p = lower(plugin);
  const n = lower(nucleus);
  const problems: string[] = [];
  if (p.mqttport !== undefined && lower(n.mqtt).port !== p.mqttport) {
    const want = JSON.stringify(p.mqttport);
    problems.push(`${nucleusPath}.mqtt.port must be ${want} like the plugin's mqttPort (the core uses 8883 otherwise)`);
  }
  if (p.mqttport === 443 && n.greengrassdataplaneport !== 443) {
    problems.push(
      `${nucleusPath}.greengrassDataPlanePort must be 443 with MQTT on 443 (the core uses 8443 for HTTPS otherwise)`,
    );
  }
  const proxy = lower(lower(n.networkproxy).proxy);
  for (const [key, nucleusKey] of [
    ['proxyUrl', 'url'],
    ['proxyUsername', 'username'],
    ['proxyPassword', 'password'],
  ]) {
    const want = p[key.toLowerCase()];
    if (want !== undefined && proxy[nucleusKey] !== want) {
      const where = `${nucleusPath}.networkProxy.proxy.${nucleusKey}`;
      problems.push(`${where} must match the plugin's ${key} (the core bypasses the proxy otherwise)`);
    }
  }
  return problems;
}
