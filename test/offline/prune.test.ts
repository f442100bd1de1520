// Old pipeline runs lose their disk images (each holds the claim key and about a GiB), never a run still going:
// a second pipeline started beside a running one must not delete the first one's bake output or clone disks.
import t from 'tap';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { tmp } from '../helpers/tmp.ts';
import { pruneOldRuns } from '../../offline/pipeline.ts';

t.test('pruning keeps the newest runs and every run whose pipeline is alive', async (t) => {
  const cache = tmp('gg-prune-');
  const saved = process.env.OFFLINE_CACHE_DIR;
  process.env.OFFLINE_CACHE_DIR = cache;
  t.teardown(() => {
    if (saved === undefined) delete process.env.OFFLINE_CACHE_DIR;
    else process.env.OFFLINE_CACHE_DIR = saved;
  });
  const runs = join(cache, 'pipeline-runs');
  const disk = (run: string) => join(runs, run, 'image', 'greengrass-golden.qcow2');
  const deadPid = spawnSync('true').pid!;
  const made: Array<[string, number | null]> = [
    ['running-old', process.pid],
    ['crashed-old', deadPid],
    ['done-old', null],
    ['newest', null],
  ];
  made.forEach(([run, pid], i) => {
    mkdirSync(join(runs, run, 'image'), { recursive: true });
    writeFileSync(disk(run), 'qcow2');
    if (pid !== null) writeFileSync(join(runs, run, 'pipeline.pid'), String(pid));
    const at = new Date(Date.now() - (made.length - i) * 60_000);
    utimesSync(join(runs, run), at, at);
  });
  const pruned = pruneOldRuns(1);
  t.ok(existsSync(disk('running-old')), 'the run in progress keeps its disk, old as it is');
  t.ok(existsSync(disk('newest')), 'the newest run keeps its disk');
  t.notOk(existsSync(disk('crashed-old')), 'a run whose pipeline died is pruned');
  t.notOk(existsSync(disk('done-old')), 'an old finished run is pruned');
  t.equal(pruned.length, 2);
});
