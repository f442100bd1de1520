// The pipeline's OVA step on a small disk (no VM): the OVA checked, its VMDK unpacked and converted back to the qcow2
// the OVA clone boots (same contents as the sealed disk, by qemu-img compare), the sizes in the report; a tampered
// OVA stops the stage.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportOva } from '../../builder/src/ova/package.ts';
import { prepareOva } from '../../offline/ova.ts';
import { formatReport, type PipelineReport } from '../../offline/pipeline.ts';

const quiet = () => undefined;

function sealedDisk(dir: string): string {
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  writeFileSync(join(tree, 'data.bin'), randomBytes(2 << 20));
  execFileSync('truncate', ['-s', '32M', join(dir, 'disk.raw')]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, join(dir, 'disk.raw')]);
  const disk = join(dir, 'greengrass-golden.qcow2');
  execFileSync('qemu-img', ['convert', '-O', 'qcow2', join(dir, 'disk.raw'), disk]);
  return disk;
}

t.test('a reused bake without an OVA: exported, checked, its disk back as qcow2', async (t) => {
  const dir = t.testdir({});
  const sealed = sealedDisk(dir);
  const r = await prepareOva(sealed, null, dir, quiet);
  t.equal(r.origin, 'pipeline');
  t.same(r.problems, []);
  t.equal(r.capacityBytes, 32 << 20);
  t.ok(r.bytes > r.vmdkBytes && r.vmdkBytes > 0, 'the OVA holds the VMDK');
  execFileSync('qemu-img', ['compare', sealed, r.disk]);
  t.pass('the disk the OVA clone boots has the sealed disk’s contents');
  const report = { ok: true, runDir: dir, stages: [], clones: [], registrations: [], checks: [], ova: r };
  t.match(
    formatReport(report as unknown as PipelineReport),
    /OVA: .*greengrass-golden\.ova: [\d.]+ MiB, under the 300 MB target \(sealed qcow2 [\d.]+ MiB; disk populated [\d.]+ MiB of 32\.0 MiB; importer checks pass\)/,
  );
});

t.test("the bake's OVA is used as it is; a tampered one stops the stage", async (t) => {
  const dir = t.testdir({});
  const sealed = sealedDisk(dir);
  const ova = join(dir, 'baked.ova');
  await exportOva(sealed, ova);
  const r = await prepareOva(sealed, ova, join(dir, 'run'), quiet);
  t.equal(r.origin, 'bake');
  t.equal(r.path, ova);

  const x = join(dir, 'x');
  mkdirSync(x);
  execFileSync('tar', ['-xf', ova, '-C', x]);
  writeFileSync(join(x, 'greengrass-golden.ovf'), 'tampered');
  execFileSync(
    'tar',
    ['--format=ustar', '-cf', ova, 'greengrass-golden.ovf', 'greengrass-golden.mf', 'greengrass-golden-disk1.vmdk'],
    { cwd: x },
  );
  await t.rejects(prepareOva(sealed, ova, join(dir, 'run2'), quiet), {
    exitCode: 6,
    reason: 'ova-invalid',
    message: /fails the importer checks: .*greengrass-golden\.ovf: SHA256 digest mismatch/,
  });
});
