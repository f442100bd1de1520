// build, steps 6 and 8: `packer init` (Packer >= 1.7) on the staged templates, and `packer build` of the
// target's source with the staged files, the target's var-file, the site's var-files and --var values.
import { join } from 'node:path';
import { ToolError } from '../../../../common/errors.ts';
import type { Context } from '../../context.ts';
import { runPackerSync, stageTemplates, startPacker } from '../../packer.ts';
import type { BuildInputs } from './inputs.ts';
import type { Stage } from './staging.ts';
import { prepareOutputDir } from '../../vsphere-options.ts';

type StepLine = (n: number, message: string) => void;

/**
 * Stage the templates and run `packer init`. It runs to completion in this process (no signal handler runs
 * meanwhile), so it runs before any secret is staged. Returns the staged Packer root.
 */
export function packerInit(inputs: BuildInputs, stage: Stage, ctx: Context, step: StepLine): string {
  const { packer } = inputs;
  const packerRoot = stageTemplates(stage.dir, packer, undefined, inputs.userData);
  if (!packer.supportsInit) {
    step(6, `packer init skipped (Packer ${packer.version} < 1.7; plugins.pkr.hcl left out)`);
    return packerRoot;
  }
  step(6, 'packer init');
  const r = runPackerSync(packer, ['init', '.'], packerRoot);
  for (const line of r.output.split('\n').filter(Boolean)) ctx.progress(`  packer | ${line}`);
  if (r.status !== 0) throw new ToolError(`packer init failed (exit ${r.status})`, 'packer-failed');
  return packerRoot;
}

export function packerBuildArgs(inputs: BuildInputs, stagedFiles: string, packerRoot: string): string[] {
  return [
    'build',
    '-color=false',
    `-only=${inputs.source}`,
    ...(inputs.force ? ['-force'] : []),
    ...(inputs.onError ? [`-on-error=${inputs.onError}`] : []),
    '-var',
    `staging_dir=${stagedFiles}`,
    `-var-file=${join(packerRoot, `${inputs.target}.pkrvars.hcl`)}`,
    ...inputs.varFiles.map((f) => `-var-file=${f}`),
    ...Object.entries(inputs.vars).flatMap(([k, v]) => ['-var', `${k}=${v}`]),
    ...inputs.vsphereArgs,
    // An OVA runs on VMware: its guestinfo OVF environment and guest customization need VMware's tools.
    ...(inputs.format === 'ova' ? ['-var', 'vmware_tools=true'] : []),
    '-var',
    `vm_name=${inputs.imageName}`,
    '-var',
    `output_directory=${inputs.outDir}`,
    '.',
  ];
}

/** `packer build`, its output streamed to stderr; the stage knows the child so a signal can stop it. */
export async function packerBuild(inputs: BuildInputs, stage: Stage, packerRoot: string, ctx: Context): Promise<void> {
  const { outDir } = inputs;
  prepareOutputDir(inputs.target, outDir);
  const started = Date.now();
  const env = {
    PKR_VAR_ssh_username: inputs.userData.username,
    PKR_VAR_ssh_password: inputs.userData.password,
    // Packer keeps downloaded ISOs here; the default (./packer_cache in its working dir) is the staging dir,
    // removed after each build, so every ISO build downloaded the ~2 GB ISO again.
    PACKER_CACHE_DIR: process.env.PACKER_CACHE_DIR || join(inputs.cacheDir, 'packer'),
  };
  const run = startPacker(
    inputs.packer,
    packerBuildArgs(inputs, stage.files, packerRoot),
    packerRoot,
    (line) => process.stderr.write(`  packer | ${line}\n`),
    env,
  );
  stage.child = run.child;
  stage.packerLeftovers = `the ${inputs.target} build VM and ${outDir}`;
  const code = await run.done;
  stage.child = null;
  if (code !== 0) {
    const kept =
      inputs.onError === 'abort'
        ? `; -on-error=abort left the ${inputs.target} build VM and ${outDir} as they were: they hold the claim key, remove them when done`
        : '';
    throw new ToolError(`packer build failed (exit ${code}); its output is above${kept}`, 'packer-failed');
  }
  ctx.progress(`packer build finished in ${Math.round((Date.now() - started) / 1000)} s`);
}
