// bench:fleet end to end at a small size: the numbers it prints come from a real run (built agents, the
// installer/nucleus stand-in host, the provisioning stand-in as its own process with its throttle), every device
// provisions once under its own name, and nothing it started outlives it. Timing is not asserted (bench, not test).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, ensureBuilt } from '../../harness/agent-exe.ts';

ensureBuilt();

interface FleetResult {
  n: number;
  rateLimiter: string;
  provisioned: number;
  registrations: number;
  distinctThingNames: number;
  collisions: number;
  wrongThingName: number;
  claimKeyLeftOnProvisioned: number;
  gaveUpRuns: number;
  unprovisionedAtEnd: number;
  throttledRegisterThing: number;
  serviceRestarts: number;
  makespanSeconds: number;
  makespanOverIdeal: number;
  endedBy: string;
}

function bench(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'bench', 'fleet.ts'), ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 300_000,
  });
}

/** Live processes whose command line mentions `text`. */
function processesNaming(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(text)) found.push(`${pid} ${cmd}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

t.test(
  'a throttled fleet of 8: all provisioned once under their own names, retried, nothing left running',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gg-bench-fleet-test-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const records = join(dir, 'records.jsonl');
    // R=1 with 8 devices booting together: most RegisterThing calls are throttled at first.
    const r = bench([
      '--n',
      '8',
      '--rate',
      '1',
      '--boot-concurrency',
      '4',
      '--warmup',
      '2',
      '--records',
      records,
      '--json',
    ]);
    t.equal(r.status, 0, r.stderr.slice(-2000));
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as FleetResult;
    t.equal(res.n, 8);
    t.equal(res.rateLimiter, 'token-bucket', 'the default throttle');
    t.equal(res.endedBy, 'done');
    t.equal(res.provisioned, 8);
    t.equal(res.distinctThingNames, 8);
    t.equal(res.registrations, 8, 'one registration per device');
    t.equal(res.collisions, 0);
    t.equal(res.wrongThingName, 0);
    t.equal(res.claimKeyLeftOnProvisioned, 0, 'claim key removed on every provisioned device');
    t.equal(res.gaveUpRuns, 0);
    t.equal(res.unprovisionedAtEnd, 0);
    t.ok(res.throttledRegisterThing > 0, `the throttle answered (${res.throttledRegisterThing} throttled)`);
    t.equal(
      res.serviceRestarts,
      res.throttledRegisterThing,
      'each throttled attempt was retried by restarting the service',
    );
    t.ok(
      res.makespanOverIdeal >= 7 / 8 && res.makespanSeconds > 0,
      `makespan ${res.makespanSeconds} s is measured against N/R`,
    );
    // The stand-in's own records agree with the report, and its process is gone.
    const events = readFileSync(records, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; pid?: number; registration?: { thingName: string } });
    const names = events.filter((e) => e.event === 'registration').map((e) => e.registration?.thingName);
    t.equal(new Set(names).size, names.length, 'the stand-in recorded no ThingName twice');
    t.equal(names.length, 8, 'the stand-in recorded the same 8 registrations (the warm-up uses its own stand-in)');
    t.equal(
      events.filter((e) => e.event === 'rejection').length,
      res.throttledRegisterThing,
      'and the same throttled calls',
    );
    t.equal(events.at(-1)?.event, 'stopped', 'the provisioning stand-in was stopped cleanly');
    t.same(processesNaming(dir), [], 'no process the bench started is left (none names its records file)');
  },
);

t.test('bad options exit 2 with the option named', async (t) => {
  const r = bench(['--n', '3', '--limiter', 'leaky']);
  t.equal(r.status, 2);
  t.match(r.stderr, /--limiter must be one of token-bucket, sliding-window, got leaky/);
  const z = bench(['--n', '0']);
  t.equal(z.status, 2);
  t.match(z.stderr, /--n must be a positive integer/);
});
