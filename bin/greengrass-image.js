#!/usr/bin/env node
// Launcher: runs builder/src/cli.ts through tsx's ESM loader API (no build step for the builder).
import { register } from 'tsx/esm/api';

register();
await import('../builder/src/cli.ts');
