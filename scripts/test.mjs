// Runs every tap test. The QEMU tests boot emulated VMs (one host core each under TCG): the pipeline test is one
// long file (bake, then clone rounds of two VMs), the base-image test boots one VM for about two minutes. Left to
// tap they would start in alphabetical order among the rest; here both start first, in a tap process of their own
// (two jobs: the base-image boot overlaps the pipeline's bake, when only one VM runs), beside the other files; their
// output goes to a log that is printed when it fails. Exit status: non-zero if either run fails. With arguments
// (files, options) it is plain `tap`.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SLOW = ['test/e2e/pipeline.test.ts', 'test/e2e/qemu-base.test.ts'];
const args = process.argv.slice(2);
const logDir = '.tap';
mkdirSync(logDir, { recursive: true });
const slowLog = join(logDir, 'e2e-qemu.log');

function tap(tapArgs, stdio) {
  return new Promise((resolve) => {
    const child = spawn('npx', ['tap', ...tapArgs], { stdio });
    const stop = (sig) => child.kill(sig);
    process.on('SIGINT', stop).on('SIGTERM', stop);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

if (args.length) process.exit(await tap(args, 'inherit')); // a chosen subset: plain tap

const started = Date.now();
const out = openSync(slowLog, 'w');
const slow = tap(['--jobs', '2', '--reporter', 'tap', ...SLOW], ['ignore', out, out]);
console.log(`${SLOW.join(', ')}: running in the background, their output in ${slowLog}`);
const restCode = await tap([...SLOW.flatMap((f) => ['--exclude', f])], 'inherit');
const slowCode = await slow;
const log = readFileSync(slowLog, 'utf8');
const summary = log.match(/^# \{.*\}$/m)?.[0] ?? '(no summary)';
if (slowCode !== 0) process.stdout.write(`\n--- ${SLOW.join(', ')} (failed) ---\n${log}`);
console.log(`${SLOW.join(', ')}: ${slowCode === 0 ? 'ok' : 'FAILED'} ${summary}`);
console.log(`all tests: ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(restCode !== 0 ? restCode : slowCode);
