// Entry of the built executable (scripts/build.mjs bundles this file). The build runs it once inside
// V8 to make a startup snapshot: every module is loaded and the common paths are warmed up then, and
// the device's process starts from that heap instead of parsing and evaluating ~400 KiB of
// JavaScript (start-up is measured by bench:agent). Outside a snapshot build it simply starts.
import { startupSnapshot } from 'node:v8';
import { start } from './cli.ts';
import { warmUp } from './snapshot-warmup.ts';
// cli.ts imports the commands lazily; import them here so they are in the snapshot too.
import './commands/run.ts';
import './commands/check.ts';
import './commands/status.ts';
import './commands/seal.ts';

if (startupSnapshot?.isBuildingSnapshot()) {
  warmUp();
  startupSnapshot.setDeserializeMainFunction(start);
} else {
  start();
}
