#!/usr/bin/env node
// Launcher. In the source checkout: runs builder/src/cli.ts through tsx's ESM loader API (no build step, the
// tests run the sources). In the installed package (npm pack), which ships no TypeScript: runs the bundle that
// scripts/pack-builder.mjs made at pack time, with production dependencies only.
import { existsSync } from 'node:fs';

const source = new URL('../builder/src/cli.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/builder/greengrass-image.mjs');
}
