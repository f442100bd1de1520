// The vSphere-only build options (issue 19): an installer ISO already in a datastore, CD-ROM removal, and the
// autoinstall data served from a CD instead of Packer's HTTP server. Each becomes a variable of
// packer/variables.pkr.hcl; the vsphere-iso source maps them onto iso_paths, remove_cdrom and cd_files/cd_label.
// Checked before anything is staged: a vSphere option with another target, a malformed datastore path, or CD
// options without the CD source is a usage error, never a silently ignored flag.
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../../common/errors.ts';

export const VSPHERE_OPTIONS = {
  'iso-path': {
    type: 'string',
    array: true,
    describe: 'vsphere: installer ISO already in a datastore, "[datastore] dir/file.iso" (no download), repeatable',
  },
  'remove-cdrom': {
    type: 'boolean',
    describe: 'vsphere: delete the CD-ROM drives from the template (default: kept, ejected)',
  },
  'autoinstall-source': {
    type: 'string',
    describe: 'vsphere: where the installer reads user-data: http (default, Packer serves it) or cd (a cidata CD)',
  },
  'cd-file': { type: 'string', array: true, describe: 'vsphere: extra file for the autoinstall CD, repeatable' },
  'cd-label': { type: 'string', describe: 'vsphere: volume label of the autoinstall CD (default cidata)' },
} as const;

/** "[datastore] path": the datastore path form vSphere and Packer's iso_paths use. */
const DATASTORE_PATH = /^\[[^\]]+\] ?\S.*$/;

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/**
 * A string inside an HCL list value: Packer parses a -var of a list(string) variable as an HCL expression (a string
 * variable's value is taken as it is), so quoted with JSON escapes and ${ / %{ doubled so nothing is interpolated.
 */
function hclString(s: string): string {
  return JSON.stringify(s)
    .replace(/\$\{/g, () => '$${')
    .replace(/%\{/g, '%%{');
}

const hclList = (items: string[]) => `[${items.map(hclString).join(', ')}]`;

/**
 * The `-var` arguments for the vSphere options given (flag or settings key, read with `get`), or a UsageError.
 * Nothing given: no arguments, so the template's defaults apply.
 */
export function vsphereVarArgs(get: (key: string) => unknown, target: string): string[] {
  const given = Object.keys(VSPHERE_OPTIONS).filter((k) => get(k) !== undefined);
  if (given.length === 0) return [];
  if (target !== 'vsphere') {
    throw new UsageError(`${given.map((k) => `--${k}`).join(', ')}: vSphere only (target is ${target})`);
  }
  const vars: [string, string][] = [];

  const isoPaths = list(get('iso-path'));
  for (const p of isoPaths) {
    if (!DATASTORE_PATH.test(p))
      throw new UsageError(`--iso-path ${JSON.stringify(p)}: expected a datastore path "[datastore] dir/file.iso"`);
  }
  if (isoPaths.length > 0) vars.push(['vsphere_iso_paths', hclList(isoPaths)]);

  const removeCdrom = get('remove-cdrom');
  if (removeCdrom !== undefined) vars.push(['vsphere_remove_cdrom', String(removeCdrom === true)]);

  const source = get('autoinstall-source') as string | undefined;
  if (source !== undefined && source !== 'http' && source !== 'cd')
    throw new UsageError(`--autoinstall-source ${JSON.stringify(source)}: use http or cd`);
  const cdFiles = list(get('cd-file'));
  const cdLabel = get('cd-label') as string | undefined;
  if ((cdFiles.length > 0 || cdLabel !== undefined) && source !== 'cd')
    throw new UsageError('--cd-file and --cd-label need --autoinstall-source cd');
  if (source !== undefined) vars.push(['autoinstall_source', source]);
  // Packer runs in the staged copy of packer/, so relative paths are resolved here, against the user's directory.
  const files = cdFiles.map((f) => {
    const abs = resolve(f);
    if (!existsSync(abs) || !statSync(abs).isFile()) throw new UsageError(`--cd-file ${f} is not a file`);
    return abs;
  });
  if (files.length > 0) vars.push(['vsphere_cd_files', hclList(files)]);
  if (cdLabel !== undefined) {
    // ISO 9660 volume identifiers: at most 32 d-characters; NoCloud matches cidata case-insensitively.
    if (!/^[A-Za-z0-9_]{1,32}$/.test(cdLabel))
      throw new UsageError(`--cd-label ${JSON.stringify(cdLabel)}: 1-32 letters, digits or _`);
    vars.push(['vsphere_cd_label', cdLabel]);
  }
  return vars.flatMap(([k, v]) => ['-var', `${k}=${v}`]);
}

/**
 * Make output_directory as Packer needs it before `packer build`. The file-writing builders (qemu, vmware-iso,
 * virtualbox-iso) refuse an existing one, even empty; vsphere-iso writes nothing locally, so nothing would create it
 * and the manifest post-processor (build.pkr.hcl) would fail to write packer-manifest.json after the template exists.
 */
export function prepareOutputDir(target: string, outDir: string): void {
  if (target === 'vsphere') mkdirSync(outDir, { recursive: true, mode: 0o700 });
  // A non-empty one is there only with --force, and Packer's -force removes it itself.
  else if (existsSync(outDir) && readdirSync(outDir).length === 0) rmdirSync(outDir);
}
