// Bundles the pre-provisioning hook (handler.ts plus the ThingName rules it imports from common/)
// into one CommonJS file with esbuild, and writes it into the stack template as the function's inline
// code (Code.ZipFile: CloudFormation saves inline Node.js code as index.js, a CommonJS module).
// The @aws-sdk v3 clients stay external: the Lambda Node.js runtime provides them.
//   npx tsx cloudformation/pre-provisioning-hook/build.ts   # rewrite the template's ZipFile block
// test/cloudformation/pre-provisioning-hook.test.ts fails when the template and the source disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { REPO_ROOT } from '../../common/repo-root.ts';
import { FLEET_TEMPLATE_PATH } from '../template.ts';

const ENTRY = fileURLToPath(new URL('./handler.ts', import.meta.url));
const ZIPFILE_LINE = '        ZipFile: |';
const INDENT = ' '.repeat(10);

/** The hook as the Lambda runs it. */
export async function bundleHook(): Promise<string> {
  const out = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['@aws-sdk/*'],
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    // esbuild's module comments name paths relative to this: the same output from any working directory.
    absWorkingDir: REPO_ROOT,
  });
  return out.outputFiles[0]!.text;
}

/** The template text with `code` as the hook function's ZipFile block. */
export function withZipFile(template: string, code: string): string {
  const lines = template.split('\n');
  const start = lines.indexOf(ZIPFILE_LINE);
  if (start < 0 || lines.indexOf(ZIPFILE_LINE, start + 1) >= 0)
    throw new Error(`expected one "${ZIPFILE_LINE.trim()}" block in the template`);
  let end = start + 1;
  while (end < lines.length && (lines[end] === '' || lines[end]!.startsWith(INDENT))) end++;
  while (end > start + 1 && lines[end - 1] === '') end--;
  const block = code
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => (l === '' ? '' : INDENT + l));
  return [...lines.slice(0, start + 1), ...block, ...lines.slice(end)].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const before = readFileSync(FLEET_TEMPLATE_PATH, 'utf8');
  const after = withZipFile(before, await bundleHook());
  if (after !== before) writeFileSync(FLEET_TEMPLATE_PATH, after);
  console.log(after === before ? 'template already in sync' : `wrote the hook into ${FLEET_TEMPLATE_PATH}`);
}
