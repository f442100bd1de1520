// systemd/greengrass-firstboot.service: systemd-analyze verify passes (with ExecStart pointed at
// the built executable) and the unit carries the contract the agent's exit codes rely on.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from './unit-file.ts';
import { DEFAULT_AGENT_CONFIG, loadAgentConfig } from '../../agent/src/agent-config.ts';
import { worstCaseRunSeconds } from '../../agent/src/run-budget.ts';
import { EXE, REPO, ensureBuilt } from '../../harness/agent-exe.ts';

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
  const typo = verify(
    text.replace('/usr/local/bin/greengrass-firstboot', EXE).replace('RemainAfterExit=', 'RemainAfterExitt='),
  );
  t.match(typo.stderr, /Unknown key/, 'the check would notice a typo');
});

t.test('unit contract', async (t) => {
  const u = parse(text);
  const s = u.Service!;
  const unit = u.Unit!;
  t.equal(s.Type?.[0], 'oneshot');
  t.equal(s.RemainAfterExit?.[0], 'yes');
  t.equal(s.ExecStart?.[0], '/usr/local/bin/greengrass-firstboot run');
  t.same(
    s.RestartPreventExitStatus?.[0]?.split(/\s+/),
    ['2', '3'],
    'usage (2) and permanent config errors (3) never restart',
  );
  t.equal(s.Restart?.[0], 'on-failure');
  t.equal(s.NotifyAccess?.[0], 'all', "systemd-notify, the agent's child, may set the unit's status line");
  t.ok(s.TimeoutStartSec?.[0], 'bounded start');
  // Bounded only if both are set: StartLimitIntervalSec=0 turns the start rate limit off whatever the burst.
  t.ok(Number(unit.StartLimitBurst?.[0]) > 0, 'StartLimitBurst > 0');
  t.ok(timespanSeconds(unit.StartLimitIntervalSec?.[0] ?? '0') > 0, 'StartLimitIntervalSec > 0: restarts bounded');
  t.equal(
    unit.ConditionPathExists?.[0],
    `!${DEFAULT_AGENT_CONFIG.state.sentinel}`,
    "gated on the agent's default sentinel",
  );
  for (const k of ['Wants', 'After'])
    t.match((unit[k] ?? []).join(' '), /network-online\.target/, `${k}= network-online.target`);
  t.match((unit.After ?? []).join(' '), /time-sync\.target/, 'ordered after time-sync.target');
  t.notMatch(
    (unit.Wants ?? []).join(' '),
    /time-sync\.target/,
    'time-sync.target is passive: ordered after, never pulled in',
  );
  const docs = (unit.Documentation ?? [])
    .join(' ')
    .split(/\s+/)
    .filter((d) => d.startsWith('file:'));
  t.same(
    docs,
    ['file:/usr/share/doc/greengrass-firstboot/agent.md'],
    'documentation the image installs (packer/scripts/agent.sh)',
  );
  t.equal(u.Install?.WantedBy?.[0], 'multi-user.target');
  t.equal(s.StateDirectory?.[0], 'greengrass-firstboot', 'state dir matches /var/lib/greengrass-firstboot');
  // Hardening that still lets the installer create users, write /etc and /greengrass and call systemctl.
  for (const [k, v] of [
    ['NoNewPrivileges', 'yes'],
    ['PrivateTmp', 'yes'],
    ['ProtectHome', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectKernelLogs', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['ProtectClock', 'yes'],
    ['ProtectHostname', 'yes'],
    ['RestrictRealtime', 'yes'],
    ['RestrictNamespaces', 'yes'],
    ['LockPersonality', 'yes'],
    ['SystemCallArchitectures', 'native'],
    ['UMask', '0077'],
  ] as const)
    t.equal(s[k]?.[0], v, `${k}=${v}`);
  t.same(
    (s.RestrictAddressFamilies?.[0] ?? '').split(/\s+/).sort(),
    ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX'],
    'sockets: local, IP, netlink only',
  );
  const score = (unitPath: string): number => {
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', unitPath], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
    const m = /Overall exposure level for .*: (\d+\.\d+)/.exec(out);
    if (!m) throw new Error(`no exposure level in: ${out.slice(-500)}`);
    return Number(m[1]);
  };
  const dir = mkdtempSync(join(tmpdir(), 'gg-unit-sec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bare = join(dir, 'greengrass-firstboot.service');
  writeFileSync(
    bare,
    text
      .split('\n')
      .filter(
        (l) => !/^(NoNewPrivileges|PrivateTmp|Protect\w+|Restrict\w+|LockPersonality|SystemCallArchitectures)=/.test(l),
      )
      .join('\n'),
  );
  const hardened = score(UNIT);
  const unhardened = score(bare);
  t.ok(
    hardened < unhardened - 2,
    `the hardening lowers systemd-analyze security's exposure (${hardened} vs ${unhardened} without it)`,
  );
});

/** A systemd time span in seconds, parsed by systemd itself. */
function timespanSeconds(span: string): number {
  const out = execFileSync('systemd-analyze', ['timespan', span], { encoding: 'utf8' });
  const us = /μs:\s*(\d+)/.exec(out);
  if (!us) throw new Error(`systemd-analyze timespan ${span}: ${out}`);
  return Number(us[1]) / 1e6;
}

t.test(
  'start limit: a crash loop stops; attempts that wait out the network or clock bound go on for a long outage',
  async (t) => {
    // systemd refuses a start when more than StartLimitBurst starts fall within StartLimitIntervalSec of the window's
    // first: with a start every g seconds, the (burst+1)-th comes at burst * g, refused if that is within the interval.
    const u = parse(text);
    const burst = Number(u.Unit!.StartLimitBurst![0]);
    const interval = timespanSeconds(u.Unit!.StartLimitIntervalSec![0]!);
    const restartSec = timespanSeconds(u.Service!.RestartSec![0]!);
    const refusedEventually = (attemptSeconds: number) => burst * (attemptSeconds + restartSec) <= interval;
    t.ok(
      refusedEventually(1),
      `a crash loop (1 s attempts): start ${burst + 1} at ${burst * (1 + restartSec)} s is within ${interval} s, refused`,
    );
    const shipped = loadAgentConfig(join(REPO, 'agent', 'agent.yaml'));
    for (const [name, cfg] of [
      ['defaults', DEFAULT_AGENT_CONFIG],
      ['agent/agent.yaml', shipped],
    ] as const) {
      const wait = Math.min(cfg.preflight.networkWaitSeconds, cfg.preflight.clockWaitSeconds);
      t.notOk(
        refusedEventually(wait),
        `${name}: endpoint unreachable or clock unset (an attempt of >= ${wait} s) is never refused: ${burst} gaps of ${wait + restartSec} s > ${interval} s`,
      );
    }
  },
);

t.test("TimeoutStartSec outlasts the agent's worst case with the default and the shipped config", async (t) => {
  const timeout = timespanSeconds(parse(text).Service!.TimeoutStartSec![0]!);
  const shipped = loadAgentConfig(join(REPO, 'agent', 'agent.yaml'));
  for (const [name, cfg] of [
    ['defaults', DEFAULT_AGENT_CONFIG],
    ['agent/agent.yaml', shipped],
  ] as const) {
    const worst = worstCaseRunSeconds(cfg);
    t.ok(worst < timeout, `${name}: worst case ${Math.round(worst / 60)} min < TimeoutStartSec ${timeout / 60} min`);
  }
  // The bound moves with the config: a tenfold installer timeout no longer fits.
  const slow = { ...DEFAULT_AGENT_CONFIG, installer: { ...DEFAULT_AGENT_CONFIG.installer, timeoutSeconds: 6000 } };
  t.ok(worstCaseRunSeconds(slow) > timeout, "a config past the unit's bound is noticed");
});
