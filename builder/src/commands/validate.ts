// `validate`: the templates (packer validate -syntax-only, a full validate per target with dummy
// or the user's site vars, packer fmt -check), the installer config against its schema, and the
// provisioning template's parameters (cloudformation/) against the config's templateParameters; with --env the
// claim certificate and thing group in AWS, with --plugin-source the plugin jar's layout (bake-checks.ts).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, IntegrityError } from '../../../common/errors.ts';
import {
  fleetConfig,
  NUCLEUS_COMPONENT,
  parseInstallerConfig,
  type InstallerConfigDocument,
} from '../../../common/installer-config.ts';
import { nucleusMirrorProblems } from '../../../common/installer-network.ts';
import type { Context } from '../context.ts';
import {
  CONFIG_SETTINGS,
  renderInstallerConfig,
  resolveInstallerSettings,
  templateParameters,
  withSettingsRegion,
} from '../installer-settings.ts';
import { detectPacker, PACKER_SRC, runPackerSync, stageTemplates } from '../packer.ts';
import { loadSettings, pick, type Settings } from '../settings.ts';
import { makeClients } from '../aws.ts';
import { assertClaimProvisionable, assertPluginJar, assertThingGroupExists, PLUGIN_CLASS } from '../bake-checks.ts';
import { DEFAULT_SECRET_PREFIX, parseClaimSecret, secretName } from '../claim-secret.ts';
import { readClaimSecret } from './claim.ts';
import { TARGETS } from '../packer.ts';
import { UsageError } from '../../../common/errors.ts';
import { nucleusReadingDifferences } from '../../../common/yaml11.ts';
import { fleetConfigStackProblems, provisioningTemplateParameters } from '../../../cloudformation/template.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const firstLines = (s: string, n = 6) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, n)
    .join(' | ');

function dummySiteVars(dir: string): string {
  const disk = join(dir, 'dummy-disk.qcow2');
  writeFileSync(disk, '');
  const file = join(dir, 'dummy-site.pkrvars.hcl');
  writeFileSync(
    file,
    [
      'vcenter_server     = "vcenter.example.invalid"',
      'vsphere_username   = "validate@vsphere.local"',
      'vsphere_password   = "dummy"',
      'vsphere_datacenter = "dc"',
      'vsphere_cluster    = "cluster"',
      'vsphere_datastore  = "datastore"',
      `qemu_disk_image    = ${JSON.stringify(disk)}`,
      '',
    ].join('\n'),
  );
  return file;
}

/** --target: that one Packer source (a site var file often sets one platform's variables only); else all four. */
function targetsToValidate(target: unknown): [string, string][] {
  if (target === undefined) return Object.entries(TARGETS);
  if (typeof target !== 'string' || !(target in TARGETS))
    throw new UsageError(`unknown target ${JSON.stringify(target)}: use one of ${Object.keys(TARGETS).join(', ')}`);
  return [[target, TARGETS[target as keyof typeof TARGETS]]];
}

async function cfnProblems(doc: InstallerConfigDocument): Promise<Check> {
  const problems = fleetConfigStackProblems(fleetConfig(doc));
  return {
    name: 'provisioning template parameters',
    ok: problems.length === 0,
    detail:
      problems.length === 0
        ? `config sends exactly ${provisioningTemplateParameters().join(', ')}`
        : problems.join('; '),
  };
}

/** A check that passes, or fails with the ConfigError's message (what to do); other errors propagate. */
async function asCheck(name: string, run: () => Promise<string>): Promise<Check> {
  try {
    return { name, ok: true, detail: await run() };
  } catch (err) {
    if (!(err instanceof ConfigError || err instanceof IntegrityError)) throw err;
    return { name, ok: false, detail: err.message };
  }
}

/**
 * With --env: the claim in Secrets Manager and IoT and the thing group the config names (AWS calls).
 * With --plugin-source (a local jar): the plugin's layout. What `build` refuses to bake.
 */
async function bakeChecks(
  argv: Record<string, unknown>,
  settings: Settings,
  ctx: Context,
  doc: InstallerConfigDocument | undefined,
): Promise<Check[]> {
  const out: Check[] = [];
  const env = pick<string>(argv, settings, 'env');
  if (env) {
    const name = secretName(pick<string>(argv, settings, 'secret-prefix') ?? DEFAULT_SECRET_PREFIX, env);
    const c = makeClients(withSettingsRegion(ctx, settings));
    out.push(
      await asCheck(`claim certificate (${name})`, async () => {
        const raw = await readClaimSecret(c, name);
        if (raw === undefined)
          throw new ConfigError(
            `secret ${name} not found: run greengrass-image claim create --env ${env} --policy <claim policy>`,
            'secret-not-found',
          );
        const { secret } = parseClaimSecret(raw.text, name);
        const policies = await assertClaimProvisionable(c, secret, name, env);
        return `${secret.certificateId} ACTIVE, policy ${policies.join(', ')}`;
      }),
    );
    const group = doc
      ? String(fleetConfig(doc).templateParameters?.ThingGroupName ?? '')
      : templateParameters(argv, settings).ThingGroupName;
    if (group) {
      out.push(
        await asCheck(`thing group ${group}`, async () => {
          await assertThingGroupExists(c, group, env);
          return 'exists';
        }),
      );
    }
  }
  const plugin = pick<string>(argv, settings, 'plugin-source');
  if (plugin) {
    const path = resolve(plugin);
    out.push(
      await asCheck(`plugin jar ${path}`, async () => {
        if (!existsSync(path)) throw new ConfigError(`--plugin-source ${path} does not exist`, 'artifact-missing');
        assertPluginJar(path);
        return `manifest GG-Plugin-Class ${PLUGIN_CLASS}, class present`;
      }),
    );
  }
  return out;
}

export async function validate(argv: Record<string, unknown>, ctx: Context): Promise<void> {
  const settings = loadSettings(argv.settings as string | undefined, {
    ...CONFIG_SETTINGS,
    packer: 'string',
    'var-file': 'strings',
    config: 'string',
    env: 'string',
    'secret-prefix': 'string',
    'plugin-source': 'string',
  });
  const configFile = (argv.config ?? settings.config) as string | undefined;
  const targets = targetsToValidate(argv.target);
  let configText: string | undefined;
  try {
    if (configFile) configText = readFileSync(resolve(configFile), 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read --config ${configFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'file-missing',
      { cause: err },
    );
  }
  const packer = detectPacker(
    (argv.packer as string | undefined) ?? (settings.packer as string | undefined) ?? 'packer',
  );
  const checks: Check[] = [];
  const add = (c: Check) => {
    checks.push(c);
    ctx.progress(`checked ${c.name}`);
  };
  const work = mkdtempSync(join(tmpdir(), 'greengrass-image-validate-'));
  try {
    const root = stageTemplates(work, packer);
    let r = runPackerSync(packer, ['validate', '-syntax-only', '.'], root);
    add({
      name: `packer ${packer.version} validate -syntax-only`,
      ok: r.status === 0,
      detail: r.status === 0 ? 'templates parse' : firstLines(r.output),
    });

    const rawVarFiles = (argv.varFile ?? settings.varFile) as string[] | string | undefined;
    const varFiles = (rawVarFiles === undefined ? [] : Array.isArray(rawVarFiles) ? rawVarFiles : [rawVarFiles]).map(
      (f) => resolve(f),
    );
    for (const f of varFiles) if (!existsSync(f)) throw new UsageError(`--var-file ${f} does not exist`);
    const site = varFiles.length > 0 ? varFiles : [dummySiteVars(work)];
    const files = join(work, 'files');
    mkdirSync(files);
    for (const [target, source] of targets) {
      r = runPackerSync(
        packer,
        [
          'validate',
          `-only=${source}`,
          '-var',
          `staging_dir=${files}`,
          `-var-file=${target}.pkrvars.hcl`,
          ...site.map((f) => `-var-file=${f}`),
          '-var',
          `output_directory=${join(work, 'out')}`,
          '.',
        ],
        root,
      );
      add({
        name: `packer validate ${source} (${varFiles.length > 0 ? 'site vars' : 'dummy site vars'})`,
        ok: r.status === 0,
        detail: r.status === 0 ? 'valid' : firstLines(r.output),
      });
    }
    r = runPackerSync(packer, ['fmt', '-check', '.'], PACKER_SRC);
    add({
      name: 'packer fmt -check',
      ok: r.status === 0,
      detail: r.status === 0 ? 'canonical' : `needs formatting: ${firstLines(r.output)}`,
    });

    let doc: InstallerConfigDocument | undefined;
    try {
      if (configFile) doc = parseInstallerConfig(configText ?? '', configFile);
      else {
        // No AWS calls here: placeholder endpoints when none are given.
        const region = ctx.region ?? (settings.region as string | undefined) ?? process.env.AWS_REGION ?? 'us-east-1';
        const s = await resolveInstallerSettings(
          {
            iotDataEndpoint: `example-ats.iot.${region}.amazonaws.com`,
            iotCredEndpoint: `example.credentials.iot.${region}.amazonaws.com`,
            ...Object.fromEntries(Object.entries(argv).filter(([, v]) => v !== undefined)),
          },
          settings,
          { ...ctx, region },
          () => {
            throw new UsageError('validate makes no AWS calls');
          },
        );
        doc = parseInstallerConfig(renderInstallerConfig(s), 'rendered installer config');
      }
      add({
        name: 'installer config schema',
        ok: true,
        detail: configFile ? `${configFile} is valid` : 'rendered config is valid',
      });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      add({ name: 'installer config schema', ok: false, detail: err.message.replace(/\n\s*/g, ' ') });
    }
    if (doc && configFile) {
      // A hand-written config may hold plain scalars the nucleus (YAML 1.1) types differently, e.g. `ThingGroupName: 123_456`.
      const diff = nucleusReadingDifferences(doc, configText ?? '');
      add({
        name: 'installer config as the nucleus reads it (YAML 1.1)',
        ok: diff.length === 0,
        detail: diff.length === 0 ? 'same values' : `quote these: ${diff.join('; ')}`,
      });
    }
    if (doc) {
      const nucleusPath = `services."${NUCLEUS_COMPONENT}".configuration`;
      const mirror = nucleusMirrorProblems(
        fleetConfig(doc),
        doc.services[NUCLEUS_COMPONENT].configuration,
        nucleusPath,
      );
      add({
        name: 'nucleus port and proxy match the plugin',
        ok: mirror.length === 0,
        detail: mirror.length === 0 ? 'consistent' : mirror.join('; '),
      });
      add(await cfnProblems(doc));
    }
    for (const c of await bakeChecks(argv, settings, ctx, doc)) add(c);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const failed = checks.filter((c) => !c.ok);
  ctx.result(
    { ok: failed.length === 0, packerVersion: packer.version, checks },
    checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
  );
  if (failed.length > 0)
    throw new ConfigError(
      `validate: ${failed.length} check(s) failed: ${failed.map((c) => c.name).join(', ')}`,
      'validate-failed',
    );
}
