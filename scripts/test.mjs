// Runs every tap test. The two e2e files need the offline base image (built on a fresh machine, cached after): the
// pipeline test is one long file (bake, then clone rounds of two emulated VMs, one host core each under TCG), the
// base-image test reads the image's disk. Left to tap they would start in alphabetical order among the rest; here
// both start first, each in a tap process of its own, beside the other files, so the base image build and the VMs
// (the longest chain) begin at once. Their output streams to a log each (.tap/e2e-*.log, `tail -f` shows the
// pipeline's progress), printed when it fails.
// Exit status: non-zero if any run fails. With arguments (files, options) it is plain `tap`.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const SLOW = ['test/e2e/pipeline.test.ts', 'test/e2e/qemu-base.test.ts'];
const args = process.argv.slice(2);
const logDir = '.tap';
mkdirSync(logDir, { recursive: true });

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
const slow = SLOW.map((file) => {
  const log = join(logDir, `e2e-${basename(file, '.test.ts')}.log`);
  const out = openSync(log, 'w');
  console.log(`${file}: running in the background, its output in ${log}`);
  return { file, log, done: tap(['--jobs', '1', '--reporter', 'tap', file], ['ignore', out, out]) };
});
const restCode = await tap([...SLOW.flatMap((f) => ['--exclude', f])], 'inherit');
let slowCode = 0;
for (const s of slow) {
  const code = await s.done;
  const log = readFileSync(s.log, 'utf8');
  const summary = log.match(/^# \{.*\}$/m)?.[0] ?? '(no summary)';
  if (code !== 0) process.stdout.write(`\n--- ${s.file} (failed) ---\n${log}`);
  console.log(`${s.file}: ${code === 0 ? 'ok' : 'FAILED'} ${summary}`);
  // Where the time went, kept in the last lines a CI excerpt shows: the base image (cached or built) and stages.
  for (const line of log.match(/base image: (cached|built) .*|stages: .*/g) ?? []) console.log(`  ${line}`);
  slowCode ||= code;
}
console.log(`all tests: ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(restCode !== 0 ? restCode : slowCode);
