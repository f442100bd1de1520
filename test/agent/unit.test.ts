// systemd/greengrass-firstboot.service: systemd-analyze verify passes (with ExecStart pointed at
// the built executable) and the unit carries the contract the agent's exit codes rely on.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from './unit-file.ts';
import { DEFAULT_AGENT_CONFIG } from '../../agent/src/agent-config.ts';
import { EXE, REPO, ensureBuilt } from './exe.ts';

const UNIT = join(REPO, 'systemd', 'greengrass-firstboot.service');
const text = readFileSync(UNIT, 'utf8');

function verify(unitText: string): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gg-unit-'));
  try {
    const p = join(dir, 'greengrass-firstboot.service');
    writeFileSync(p, unitText);
    const r = spawnSync('systemd-analyze', ['verify', p], { encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('systemd-analyze verify passes with no warnings', async (t) => {
  ensureBuilt();
  const r = verify(text.replace('/usr/local/bin/greengrass-firstboot', EXE));
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr.trim(), '', 'no warnings (unknown keys are only warnings)');
  const typo = verify(text.replace('/usr/local/bin/greengrass-firstboot', EXE).replace('RemainAfterExit=', 'RemainAfterExitt='));
  t.match(typo.stderr, /Unknown key/, 'the check would notice a typo');
});

t.test('unit contract', async (t) => {
  const u = parse(text);
  const s = u.Service!;
  const unit = u.Unit!;
  t.equal(s.Type?.[0], 'oneshot');
  t.equal(s.RemainAfterExit?.[0], 'yes');
  t.equal(s.ExecStart?.[0], '/usr/local/bin/greengrass-firstboot run');
  t.equal(s.RestartPreventExitStatus?.[0], '3', 'permanent config errors (exit 3) never restart');
  t.equal(s.Restart?.[0], 'on-failure');
  t.ok(s.TimeoutStartSec?.[0], 'bounded start');
  t.ok(Number(unit.StartLimitBurst?.[0]) > 0, 'restarts bounded');
  t.equal(unit.ConditionPathExists?.[0], `!${DEFAULT_AGENT_CONFIG.state.sentinel}`, 'gated on the agent\'s default sentinel');
  for (const k of ['Wants', 'After']) {
    const v = (unit[k] ?? []).join(' ');
    t.match(v, /network-online\.target/, `${k}= network-online.target`);
    t.match(v, /time-sync\.target/, `${k}= time-sync.target`);
  }
  t.equal(u.Install?.WantedBy?.[0], 'multi-user.target');
  t.equal(s.StateDirectory?.[0], 'greengrass-firstboot', 'state dir matches /var/lib/greengrass-firstboot');
  const sec = execFileSync('systemd-analyze', ['security', '--offline=yes', UNIT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  t.match(sec, /Overall exposure level/, 'systemd-analyze security scores it');
});
