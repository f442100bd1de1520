// Shared by the test/packer tests: copy the templates the way `greengrass-image build` stages them
// for Packer 1.6.6 (plugins.pkr.hcl left out), and run commands.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../common/repo-root.ts';
import { tmp } from '../helpers/tmp.ts';

export { tmp };

export const REPO = REPO_ROOT;
export const PACKER_DIR = join(REPO, 'packer');
export const SCRIPTS_DIR = join(PACKER_DIR, 'scripts');

/** The builder's `--target` names and their Packer sources: the tests check the templates against them. */
export { TARGETS } from '../../builder/src/packer.ts';

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** <dir>/packer: the HCL root as the builder stages it for Packer < 1.7. */
export function stagePackerRoot(dir: string, opts: { withPlugins?: boolean } = {}): string {
  const root = join(dir, 'packer');
  cpSync(PACKER_DIR, root, { recursive: true });
  if (!opts.withPlugins) rmSync(join(root, 'plugins.pkr.hcl'));
  return root;
}

/** Site values a user's --var-file would carry, plus a dummy qcow2 / kernel / initrd for qemu. */
export function writeSiteVars(dir: string): string {
  const disk = join(dir, 'base.qcow2');
  const r = run('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
  if (r.status !== 0) throw new Error(`qemu-img failed: ${r.stderr}`);
  writeFileSync(join(dir, 'vmlinuz'), 'stand-in kernel');
  writeFileSync(join(dir, 'initrd.img'), 'stand-in initrd');
  const file = join(dir, 'site.pkrvars.hcl');
  writeFileSync(
    file,
    [
      'vcenter_server     = "vcenter.example.invalid"',
      'vsphere_username   = "builder@vsphere.local"',
      'vsphere_password   = "not-a-real-password"',
      'vsphere_datacenter = "dc1"',
      'vsphere_cluster    = "cluster1"',
      'vsphere_datastore  = "datastore1"',
      `qemu_disk_image    = "${disk}"`,
      `qemu_kernel        = "${join(dir, 'vmlinuz')}"`,
      `qemu_initrd        = "${join(dir, 'initrd.img')}"`,
      '',
    ].join('\n'),
  );
  return file;
}

export function scripts(): string[] {
  return readdirSync(SCRIPTS_DIR)
    .filter((f) => f.endsWith('.sh'))
    .sort();
}
