// The pipeline report quotes a clone's first-boot journal as sentences, whatever agent wrote it.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { journalQuote, readableLine } from '../../offline/report.ts';

const dir = mkdtempSync(join(tmpdir(), 'gg-report-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('a refused clone: time, who, the sentence; installer output and other units left out', async (t) => {
  const file = join(dir, 'clone-dup.boot1.journal.txt');
  writeFileSync(
    file,
    [
      '-- Boot 0123456789abcdef0123456789abcdef --',
      '2026-12-06T10:00:00+0000 branch-017 greengrass-firstboot[300]: an earlier boot',
      '-- Boot fedcba9876543210fedcba9876543210 --',
      '2026-12-06T11:00:01+0000 branch-017 systemd[1]: Starting greengrass-firstboot.service - Provision…',
      '2026-12-06T11:00:02+0000 branch-017 greengrass-firstboot[310]: ThingName branch-017 taken from the hostname',
      '2026-12-06T11:00:09+0000 branch-017 greengrass-firstboot[311]: Installer: Setting up Greengrass Nucleus',
      '2026-12-06T11:00:40+0000 branch-017 greengrass-firstboot[330]: Still waiting for provisioning confirmation, 30 s of 300',
      '2026-12-06T11:00:41+0000 branch-017 greengrass-firstboot[331]: AWS IoT refused to register "branch-017" (…)',
      '2026-12-06T11:00:41+0000 branch-017 systemd[1]: greengrass-firstboot.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED',
      '2026-12-06T11:00:41+0000 branch-017 kernel: unrelated',
    ].join('\n'),
  );
  t.same(journalQuote(file), [
    '11:00:02 greengrass-firstboot: ThingName branch-017 taken from the hostname',
    '11:00:40 greengrass-firstboot: Still waiting for provisioning confirmation, 30 s of 300',
    '11:00:41 greengrass-firstboot: AWS IoT refused to register "branch-017" (…)',
    '11:00:41 systemd: greengrass-firstboot.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED',
  ]);
});

t.test("an older agent's JSON line is shown by its message", async (t) => {
  t.equal(
    readableLine(
      '2026-12-06T11:00:02+0000 branch-017 greengrass-firstboot[310]: {"level":30,"time":1,"pid":310,"msg":"ThingName resolved"}',
    ),
    '11:00:02 greengrass-firstboot: ThingName resolved',
  );
  t.equal(readableLine('-- No entries --'), '-- No entries --', 'anything else as it is');
});
