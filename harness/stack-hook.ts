// The stack's pre-provisioning hook as AWS Lambda runs it, for tests: the template's inline code
// (Code.ZipFile) written out as a CommonJS index.js next to the repository's node_modules (so its
// @aws-sdk v3 clients resolve, as the Lambda runtime provides them) and loaded.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFleetTemplate } from '../cloudformation/template.ts';
import type { HookAnswer, HookEvent, HookOptions } from '../cloudformation/pre-provisioning-hook/handler.ts';

export interface StackHook {
  handler(e: HookEvent): Promise<HookAnswer>;
  createHandler(o: HookOptions): (e: HookEvent) => Promise<HookAnswer>;
}

/** The template's inline hook code. */
export function stackHookCode(): string {
  const fn = loadFleetTemplate().Resources.PreProvisioningHookFunction;
  return String((fn?.Properties?.Code as { ZipFile?: string } | undefined)?.ZipFile ?? '');
}

/**
 * Load the inline code. The file written for it is removed as soon as it is loaded (its requires are
 * top-level, so nothing reads it afterwards): a process that never reaches a teardown leaves nothing behind.
 */
export function loadStackHook(): StackHook {
  const dir = join(fileURLToPath(new URL('..', import.meta.url)), '.cache', `stack-hook-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
    writeFileSync(join(dir, 'index.js'), stackHookCode());
    return createRequire(import.meta.url)(join(dir, 'index.js')) as StackHook;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
