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

/** Load the inline code; `cleanup` removes the file written for it. */
export function loadStackHook(): { hook: StackHook; cleanup(): void } {
  const dir = join(fileURLToPath(new URL('..', import.meta.url)), '.cache', `stack-hook-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
  writeFileSync(join(dir, 'index.js'), stackHookCode());
  const hook = createRequire(import.meta.url)(join(dir, 'index.js')) as StackHook;
  return { hook, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
