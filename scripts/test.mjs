// Runs every tap test. The QEMU pipeline test is one long file (about ten minutes, mostly one emulated CPU);
// tap starts files in alphabetical order, so left to itself it would start last and run alone at the end. Here it
// starts first, in its own tap process, beside the other files; its output goes to a log that is printed when
// it fails. Exit status: non-zero if either run fails. With arguments (files, options) it is plain `tap`.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SLOW = 'test/e2e/pipeline.test.ts';
const args = process.argv.slice(2);
const logDir = '.tap';
mkdirSync(logDir, { recursive: true });
const slowLog = join(logDir, 'e2e-pipeline.log');

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
const slow = tap(['--jobs', '1', '--reporter', 'tap', SLOW, ...args], ['ignore', out, out]);
console.log(`${SLOW}: running in the background, its output in ${slowLog}`);
const restCode = await tap(['--exclude', SLOW, ...args], 'inherit');
const slowCode = await slow;
const log = readFileSync(slowLog, 'utf8');
const summary = log.match(/^# \{.*\}$/m)?.[0] ?? '(no summary)';
if (slowCode !== 0) process.stdout.write(`\n--- ${SLOW} (failed) ---\n${log}`);
console.log(`${SLOW}: ${slowCode === 0 ? 'ok' : 'FAILED'} ${summary}`);
console.log(`all tests: ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(restCode !== 0 ? restCode : slowCode);
