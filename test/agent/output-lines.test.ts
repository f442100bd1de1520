// The agent's own line splitting of the installer's output (pipeLines) and its direct writes to fds (writeAll).
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { exceptionReader, pipeLines } from '../../agent/src/installer.ts';
import { REPO } from '../../harness/agent-exe.ts';

async function linesOf(chunks: Array<string | Buffer>): Promise<string[]> {
  const stream = new PassThrough();
  const lines: string[] = [];
  const done = pipeLines(stream, (l) => lines.push(l));
  for (const c of chunks) stream.write(c);
  stream.end();
  await done;
  return lines;
}

t.test('pipeLines: LF and CRLF, lines split across chunks, a last line without newline', async (t) => {
  t.same(await linesOf(['a\nb\r\n', 'c', 'd\n\n', 'tail']), ['a', 'b', 'cd', '', 'tail']);
  t.same(await linesOf(['only\n']), ['only'], 'no empty line after the final newline');
  t.same(await linesOf([]), [], 'nothing for no output');
  const euro = Buffer.from('€ ok\n', 'utf8');
  t.same(
    await linesOf([euro.subarray(0, 1), euro.subarray(1, 2), euro.subarray(2)]),
    ['€ ok'],
    'a UTF-8 character split across chunks',
  );
});

t.test('pipeLines: resolves on a stream error, and at once for no stream', async (t) => {
  const stream = new PassThrough();
  const lines: string[] = [];
  const done = pipeLines(stream, (l) => lines.push(l));
  stream.write('partial\n');
  stream.destroy(new Error('boom'));
  await done;
  t.same(lines, ['partial']);
  await t.resolves(pipeLines(undefined, () => t.fail('no lines')));
});

t.test('writeAll: waits out a full non-blocking pipe (EAGAIN) and writes everything, in order', async (t) => {
  // 1 MiB through a pipe (64 KiB buffer) made non-blocking, whose reader starts late: the writer meets EAGAIN.
  const code = `const { writeAll } = await import(${JSON.stringify(join(REPO, 'agent', 'src', 'fd-write.ts'))});
process.stdout._handle?.setBlocking?.(false);
for (let i = 0; i < 1024; i++) writeAll(1, String(i % 10).repeat(1023) + '\\n');
writeAll(2, 'done\\n');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise((r) => setTimeout(r, 300));
  const chunks: Buffer[] = [];
  for await (const c of child.stdout) chunks.push(c as Buffer);
  const exit = await new Promise<number | null>((r) => child.on('close', r));
  t.equal(exit, 0, err);
  const out = Buffer.concat(chunks).toString();
  t.equal(out.length, 1024 * 1024, 'every byte');
  t.ok(
    out
      .split('\n')
      .slice(0, -1)
      .every((l, i) => l === String(i % 10).repeat(1023)),
    'lines whole and in order',
  );
  t.equal(err, 'done\n');
});

t.test('writeAll: a reader that is gone (EPIPE) or a closed fd drops the text, no exception', async (t) => {
  const code = `const { writeAll } = await import(${JSON.stringify(join(REPO, 'agent', 'src', 'fd-write.ts'))});
writeAll(1, 'x'.repeat(200000));
const { openSync, closeSync } = await import('node:fs');
const fd = openSync('/dev/null', 'w'); closeSync(fd);
writeAll(fd, 'to a closed fd');
process.exitCode = 7;`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.destroy(); // the reader goes away
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = await new Promise<number | null>((r) => child.on('close', r));
  t.equal(exit, 7, `ran to the end: ${err}`);
  t.equal(err, '');
});

t.test("exceptionReader: the installer's exception after its catch-all line, with the root cause", async (t) => {
  const r = exceptionReader();
  for (const l of [
    'Setting up Greengrass Nucleus',
    'Error while trying to setup Greengrass Nucleus',
    'java.lang.RuntimeException: Undefined command line argument: --bogus',
    '\tat com.aws.greengrass.easysetup.GreengrassSetup.parseArgs(GreengrassSetup.java:300)',
    'Caused by: java.io.IOException: No space left on device',
    '\tat java.base/java.io.FileOutputStream.writeBytes(Native Method)',
    '\t... 3 more',
  ])
    r.line(l);
  t.equal(
    r.summary(),
    'java.lang.RuntimeException: Undefined command line argument: --bogus (caused by java.io.IOException: No space left on device)',
  );
  const none = exceptionReader();
  none.line('java.lang.RuntimeException: printed before any failure');
  t.equal(none.summary(), null, 'only what follows the catch-all line counts');
});
