// Records every module the ESM loader resolves, one URL a line, into the file MODULE_TRACE_FILE names: proof of
// which modules a command loads. Use: node --import tsx --import ./harness/module-trace.mjs agent/src/main.ts …
// (hooks run on a loader thread; this file registers itself there from the main thread).
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) register(import.meta.url);

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (process.env.MODULE_TRACE_FILE) appendFileSync(process.env.MODULE_TRACE_FILE, `${resolved.url}\n`);
  return resolved;
}
