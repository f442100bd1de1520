// `validate`: the templates (packer validate -syntax-only, a full validate per target with dummy
// or the user's site vars, packer fmt -check), the installer config against its schema, and the
// provisioning template's parameters (cloudformation/) against the config's templateParameters; with --env the
// claim certificate and thing group in AWS, with --plugin-source the plugin jar's layout (checks.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, UsageError } from '../../../../common/errors.ts';
import {
  fleetConfig,
  NUCLEUS_COMPONENT,
  parseInstallerConfig,
  type InstallerConfigDocument,
} from '../../../../common/installer-config.ts';
import { nucleusMirrorProblems } from '../../../../common/installer-network.ts';
import { nucleusReadingDifferences } from '../../../../common/yaml11.ts';
import { command } from '../../command.ts';
import type { Context } from '../../context.ts';
import { renderInstallerConfig, resolveInstallerSettings, type ConfigFlags } from '../../installer-settings.ts';
import { IMAGE_OPTIONS, IMAGE_SETTINGS } from '../../options.ts';
import { detectPacker, PACKER_SRC, runPackerSync, stageTemplates, targetNamed, TARGETS } from '../../packer.ts';
import { loadSettings, pick, pickFiles } from '../../settings.ts';
import { bakeChecks, cfnProblems, type Check } from './checks.ts';

export interface ValidateOptions extends ConfigFlags {
  packer?: string;
  varFile?: string[];
  target?: string;
  config?: string;
  env?: string;
  secretPrefix?: string;
  pluginSource?: string;
  settings?: string;
}

export const validateCommand = command({
  command: 'validate',
  describe: 'packer validate + fmt -check on the templates, config schema, provisioning template parameters',
  builder: (y) =>
    y
      .option('var-file', { type: 'string', array: true, describe: 'site var-file for the full validate' })
      .option('target', {
        type: 'string',
        describe: `validate this Packer source only (${Object.keys(TARGETS).join(', ')}); default all`,
      })
      .option('config', {
        type: 'string',
        describe: 'installer config.yaml to check (default: rendered from the flags with placeholder endpoints)',
      })
      .option('env', {
        type: 'string',
        describe: 'also check the claim of this environment and the thing group in AWS (as build does)',
      })
      .option('plugin-source', {
        type: 'string',
        describe: 'also check this local plugin jar has the FleetProvisioningByClaim layout',
      })
      .options(IMAGE_OPTIONS),
}).runs(validate);

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
function targetsToValidate(target: string | undefined): [string, string][] {
  if (target === undefined) return Object.entries(TARGETS);
  const named = targetNamed(target);
  return [[named, TARGETS[named]]];
}

export async function validate(argv: ValidateOptions, ctx: Context): Promise<void> {
  const settings = loadSettings(argv.settings, {
    ...IMAGE_SETTINGS,
    'var-file': 'strings',
    config: 'string',
    env: 'string',
    'plugin-source': 'string',
  });
  const configFile = pick<string>(argv, settings, 'config');
  const varFiles = pickFiles(argv, settings, 'var-file');
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
  const packer = detectPacker(pick<string>(argv, settings, 'packer') ?? 'packer');
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
            ...argv,
            iotDataEndpoint: argv.iotDataEndpoint ?? `example-ats.iot.${region}.amazonaws.com`,
            iotCredEndpoint: argv.iotCredEndpoint ?? `example.credentials.iot.${region}.amazonaws.com`,
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
