// The govc and vcsim that scripts/setup.sh builds from Debian's govmomi source, and the harness that runs vcsim:
// govc (`about` needs no login; `ls` does) reaches the simulator with the credentials it was started with (and is refused with others), sees the
// inventory a vSphere admin would browse, and stop() leaves neither the process nor its temp dir behind.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startVcsim } from '../../harness/vcsim.ts';

t.test('govc about / ls against vcsim; stop cleans up', async (t) => {
  const sim = await startVcsim();
  t.teardown(() => sim.stop());
  const about = JSON.parse(sim.govcOk(['about', '-json'])) as { About: { ApiType: string; Version: string } };
  t.equal(about.About.ApiType, 'VirtualCenter', 'a vCenter (VPX) simulator');
  t.match(about.About.Version, /^\d+\.\d+/);
  t.same(sim.govcOk(['ls', '/']).trim().split('\n'), ['/DC0'], 'one datacenter');
  const hosts = sim.govcOk(['ls', '/DC0/host']).trim().split('\n');
  t.ok(hosts.includes('/DC0/host/DC0_C0'), `cluster DC0_C0 (${hosts.join(', ')})`);
  t.ok(sim.govcOk(['ls', '/DC0/datastore']).includes('/DC0/datastore/LocalDS_0'), 'datastore LocalDS_0');
  t.ok(sim.govcOk(['ls', '/DC0/network']).includes('/DC0/network/VM Network'), 'network "VM Network"');

  const wrong = spawnSync('govc', ['ls', '/'], {
    encoding: 'utf8',
    env: { ...process.env, ...sim.env, GOVC_PASSWORD: 'not-the-password', GOVC_PERSIST_SESSION: 'false' },
  });
  t.not(wrong.status, 0, 'a wrong password is refused (a fresh login, not the session govc kept)');
  t.match(wrong.stderr, /incorrect user name or password|Login failure/i);

  await sim.stop();
  t.notOk(existsSync(sim.dir), 'temp dir removed');
  t.notOk(existsSync(`/proc/${sim.pid}`), `vcsim (pid ${sim.pid}) has ended`);
  t.not(spawnSync('govc', ['ls', '/'], { env: { ...process.env, ...sim.env } }).status, 0, 'no longer answers');
});
