// Ordinary command-line mistakes get a usage error (exit 2) that names what was typed, never an internal error.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../common/errors.ts';
import { runCli, tmp } from './helpers.ts';

const env = { ...process.env, AWS_REGION: 'us-east-1' };

t.test('an option given twice is refused by name, and nothing is written', async (t) => {
  const dir = tmp('gg-usage-');
  const [a, b] = [join(dir, 'a.yaml'), join(dir, 'b.yaml')];
  const r = await runCli(['config', 'render', '-o', a, '-o', b], env);
  t.equal(r.code, ExitCode.USAGE, r.stderr);
  t.match(r.stderr, `--output was given 2 times (${a}, ${b}): give it once`);
  t.notMatch(r.stderr, /internal error|ERR_INVALID_ARG_TYPE/);
  t.notOk(existsSync(a) || existsSync(b), 'no config written');
  const e = await runCli(['claim', 'create', '--env', 'prod', '--env', 'test'], env);
  t.equal(e.code, ExitCode.USAGE);
  t.match(e.stderr, '--env was given 2 times (prod, test)');
});

t.test('options documented as repeatable still repeat', async (t) => {
  const r = await runCli(
    ['validate', '--var-file', '/nonexistent/a.pkrvars.hcl', '--var-file', '/nonexistent/b.pkrvars.hcl'],
    env,
  );
  t.notMatch(r.stderr, /given 2 times/);
  t.match(r.stderr, /--var-file \/nonexistent\/a\.pkrvars\.hcl does not exist/);
});
