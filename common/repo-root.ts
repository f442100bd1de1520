// The repository root (in the builder's npm package: the package root; scripts/pack-builder.mjs keeps each
// module's import.meta.url pointing at its source file's place). Every TypeScript module that reads files of
// the checkout by path starts from here.
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
