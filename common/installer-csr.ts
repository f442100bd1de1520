// CSR mode of the FleetProvisioningByClaim plugin (plugin >= 1.2.0): the device makes its own key and a
// certificate signing request, the plugin sends only the CSR (CreateCertificateFromCsr) and the key never leaves
// the device. The plugin reads `csrPath`, and copies `csrPrivateKeyPath` to its `privateKeyPath` (facts and
// sources: docs/facts/csr-mode.md). The builder writes the two keys; the agent creates the files they name.

/** First plugin release that reads csrPath and csrPrivateKeyPath (1.1.0 ignores them and makes AWS issue the key). */
export const CSR_MIN_PLUGIN_VERSION = '1.2.0';

export interface CsrPaths {
  csrPath: string;
  csrPrivateKeyPath: string;
}

/**
 * The builder's CSR paths under `rootPath`. The key goes where the nucleus will read it (the plugin's default
 * privateKeyPath), so the plugin's copy is of a file onto itself and the device holds one copy of its key.
 */
export function defaultCsrPaths(rootPath: string): CsrPaths {
  const root = rootPath.replace(/\/+$/, '');
  return { csrPath: `${root}/device.csr`, csrPrivateKeyPath: `${root}/privKey.key` };
}

const given = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

/** The CSR paths of a plugin configuration, or null when it asks AWS for the key (no csrPath: the plugin's rule). */
export function csrPaths(cfg: { csrPath?: unknown; csrPrivateKeyPath?: unknown }): CsrPaths | null {
  if (!given(cfg.csrPath)) return null;
  return { csrPath: cfg.csrPath, csrPrivateKeyPath: String(cfg.csrPrivateKeyPath ?? '') };
}

/**
 * Problems with the CSR keys of a plugin configuration (empty = valid or not CSR mode). `files` are the other
 * paths of the configuration, by key name, with the plugin's defaults applied.
 */
export function csrConfigProblems(c: Record<string, unknown>, files: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  for (const key of ['csrPath', 'csrPrivateKeyPath']) {
    if (c[key] !== undefined && typeof c[key] !== 'string') problems.push(`${key} must be a path (a string)`);
  }
  const csr = given(c.csrPath);
  const key = given(c.csrPrivateKeyPath);
  if (csr && !key)
    problems.push(
      'csrPath needs csrPrivateKeyPath (the key the CSR was made from); the plugin refuses to run without it',
    );
  if (!csr && key)
    problems.push(
      'csrPrivateKeyPath without csrPath: the plugin would ignore the key and have AWS make one; set csrPath too or drop it',
    );
  if (!csr || !key) return problems;
  if (c.csrPath === c.csrPrivateKeyPath) problems.push('csrPath and csrPrivateKeyPath must be different files');
  for (const [name, path] of Object.entries(files)) {
    if (path === undefined) continue;
    // The key may be the plugin's own privateKeyPath (copied onto itself); nothing else may be shared.
    if (c.csrPrivateKeyPath === path && name !== 'privateKeyPath')
      problems.push(`csrPrivateKeyPath must not be ${name} (${path})`);
    if (c.csrPath === path) problems.push(`csrPath must not be ${name} (${path})`);
  }
  return problems;
}
