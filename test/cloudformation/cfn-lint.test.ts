// cfn-lint (AWS's CloudFormation linter, code this project did not write) on the stack template:
// every error or warning it reports fails the test. A deliberately broken copy shows the check can
// fail. cfn-lint missing is a failure that says how to install it, never a skip.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLEET_TEMPLATE_PATH } from '../../cloudformation/template.ts';

interface Finding {
  Level: string;
  Message: string;
  Rule: { Id: string };
  Location: { Start: { LineNumber: number } };
}

/** cfn-lint's findings at level Error or Warning (exit bits 2 and 4); Informational ones are kept out. */
function lint(path: string): { findings: Finding[]; shown: string } {
  const r = spawnSync('cfn-lint', ['--format', 'json', '--', path], { encoding: 'utf8', timeout: 120_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      'cfn-lint is not installed (it is not on PATH): run scripts/setup.sh, which installs the independent checks',
    );
  }
  if (r.error) throw r.error;
  // Exit code: bit 1 = error, 2 = cfn-lint failed to run, 4 = warning, 8 = informational.
  if (r.status === null || (r.status & 1) !== 0 || !r.stdout.trim().startsWith('[')) {
    throw new Error(`cfn-lint did not run (exit ${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  const findings = (JSON.parse(r.stdout) as Finding[]).filter((f) => f.Level === 'Error' || f.Level === 'Warning');
  const shown = findings
    .map((f) => `${f.Level} ${f.Rule.Id} line ${f.Location.Start.LineNumber}: ${f.Message}`)
    .join('\n');
  if (findings.length === 0 && (r.status & 6) !== 0)
    throw new Error(`cfn-lint exit ${r.status} but no finding parsed: ${r.stdout}`);
  return { findings, shown };
}

t.test('cloudformation/greengrass-fleet.yaml: no cfn-lint error or warning', async (t) => {
  const { findings, shown } = lint(FLEET_TEMPLATE_PATH);
  t.same(findings, [], shown || 'clean');
});

t.test('a broken copy is reported (the check can fail)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gg-cfnlint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const text = readFileSync(FLEET_TEMPLATE_PATH, 'utf8');

  const withError = join(dir, 'error.yaml');
  const errorText = text.replace(/^(\s+)Type: AWS::IoT::RoleAlias$/m, '$1Type: AWS::IoT::RoleAliass');
  t.not(errorText, text, 'the error was written into the copy');
  writeFileSync(withError, errorText);
  const e = lint(withError);
  t.ok(
    e.findings.some((f) => f.Level === 'Error'),
    `an unknown resource type is an error:\n${e.shown}`,
  );

  const withWarning = join(dir, 'warning.yaml');
  const warningText = text.replace(/^Parameters:\n/m, 'Parameters:\n  NeverUsed:\n    Type: String\n');
  t.not(warningText, text);
  writeFileSync(withWarning, warningText);
  const w = lint(withWarning);
  t.ok(
    w.findings.some((f) => f.Level === 'Warning' && /NeverUsed/.test(f.Message)),
    `an unused parameter is a warning:\n${w.shown}`,
  );
});

t.test('cfn-lint missing: the failure says to run scripts/setup.sh', async (t) => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  t.teardown(() => {
    process.env.PATH = saved;
  });
  t.throws(() => lint(FLEET_TEMPLATE_PATH), { message: /cfn-lint is not installed.*run scripts\/setup\.sh/ });
});
