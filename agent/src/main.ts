// Entry of the built executable (scripts/build.mjs bundles this file; the SEA blob carries a V8 code
// cache for it). cli.ts has no side effects at import; start() handles the process (signals, argv).
import { start } from './cli.ts';

start();
