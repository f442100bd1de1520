// The ISO transport's CD image: the harness's ovf-env ISO (what the offline pipeline attaches to a clone) as an
// independent reader (isoinfo, from Debian's genisoimage package) sees it, and the agent's own ISO 9660 reader
// (agent/src/iso9660.ts) on the names and layouts mastering tools produce.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readIsoRootFile } from '../../agent/src/iso9660.ts';
import { ovfEnvCdromQemuArgs, ovfEnvIsoForThingName, ovfEnvironmentXml } from '../../harness/ovf-env.ts';
import { ovflibProperties } from '../../harness/ovflib.ts';

const dir = mkdtempSync(join(tmpdir(), 'ovf-env-iso-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function isoinfo(iso: string, ...args: string[]): string {
  return execFileSync('isoinfo', ['-i', iso, ...args], { encoding: 'utf8' });
}

/** An ISO 9660 image of `files` made with genisoimage and `options`. */
function master(name: string, files: Record<string, string | Buffer>, options: string[]): string {
  const src = join(dir, `${name}.d`);
  mkdirSync(src);
  for (const [f, content] of Object.entries(files)) writeFileSync(join(src, f), content);
  const iso = join(dir, `${name}.iso`);
  execFileSync('genisoimage', ['-quiet', '-output', iso, ...options, src], { stdio: ['ignore', 'ignore', 'pipe'] });
  return iso;
}

t.test(
  'the ovf-env ISO for a thing-name: ovf-env.xml in the root, with the property VMware ovflib reads',
  async (t) => {
    const iso = ovfEnvIsoForThingName(join(dir, 'clone.iso'), 'edge-iso-0042');
    const expected = ovfEnvironmentXml({ 'thing-name': 'edge-iso-0042' });
    t.equal(isoinfo(iso, '-R', '-x', '/ovf-env.xml'), expected, 'Rock Ridge name (what Linux mounts show)');
    t.equal(isoinfo(iso, '-J', '-x', '/ovf-env.xml'), expected, 'Joliet name');
    t.equal(isoinfo(iso, '-x', '/OVF_ENV.XML;1'), expected, 'ISO 9660 primary name');
    t.match(isoinfo(iso, '-d'), /Volume id: OVF ENV/);
    const vmware = ovflibProperties(isoinfo(iso, '-R', '-x', '/ovf-env.xml'));
    t.same(vmware, { ok: true, properties: { 'thing-name': 'edge-iso-0042' } });
  },
);

t.test("the agent's reader finds ovf-env.xml under each name mastering tools give it", async (t) => {
  const content = ovfEnvironmentXml({ 'thing-name': 'edge-1' });
  const variants: Record<string, string[]> = {
    'plain ISO 9660 (OVF_ENV.XML;1)': [],
    'Rock Ridge and Joliet': ['-R', '-J'],
    'ISO 9660:1999 (ovf-env.xml as is)': ['-iso-level', '4'],
    'relaxed names (OVF-ENV.XML;1)': ['-iso-level', '2', '-relaxed-filenames'],
  };
  for (const [what, options] of Object.entries(variants)) {
    const iso = master(what.replace(/\W+/g, '-'), { 'ovf-env.xml': content }, options);
    const r = readIsoRootFile(iso, 'ovf-env.xml', 1 << 20);
    t.equal(r.kind === 'found' ? r.data.toString() : r.kind, content, what);
  }
});

t.test('a root directory longer than one sector is read to its end', async (t) => {
  const files: Record<string, string> = { 'ovf-env.xml': 'last' };
  for (let i = 0; i < 150; i++) files[`a-file-${String(i).padStart(3, '0')}.txt`] = `${i}`;
  const iso = master('many', files, ['-R']);
  const rootDirBytes = readFileSync(iso).readUInt32LE(16 * 2048 + 156 + 10); // the PVD's root directory record
  t.ok(rootDirBytes > 2048, `the root directory spans ${rootDirBytes} bytes`);
  const r = readIsoRootFile(iso, 'ovf-env.xml', 1 << 20);
  t.equal(r.kind === 'found' ? r.data.toString() : r.kind, 'last');
});

t.test('what is not there is said so: not ISO 9660, no such file, too large', async (t) => {
  const random = join(dir, 'random.img');
  writeFileSync(random, Buffer.alloc(40 * 2048, 0xa5));
  t.same(readIsoRootFile(random, 'ovf-env.xml', 1 << 20), { kind: 'not-iso9660' });
  const short = join(dir, 'short.img');
  writeFileSync(short, 'CD001');
  t.same(readIsoRootFile(short, 'ovf-env.xml', 1 << 20), { kind: 'not-iso9660' });
  const seed = master('cidata', { 'user-data': '#cloud-config\n', 'meta-data': '' }, ['-R', '-J', '-V', 'cidata']);
  t.same(readIsoRootFile(seed, 'ovf-env.xml', 1 << 20), { kind: 'no-such-file' }, 'a cloud-init seed ISO');
  const big = master('big', { 'ovf-env.xml': Buffer.alloc(3000, 0x20) }, ['-R']);
  t.same(readIsoRootFile(big, 'ovf-env.xml', 2048), { kind: 'too-large', size: 3000 });
});

t.test('QEMU attaches the ovf-env ISO as a read-only CD-ROM on the machine clones boot with', async (t) => {
  const iso = ovfEnvIsoForThingName(join(dir, 'qemu, clone.iso'), 'edge-qemu-1'); // a comma QEMU must not split on
  const qmp = ['qmp_capabilities', 'query-block', 'quit'].map((c) => JSON.stringify({ execute: c })).join('\n');
  const r = spawnSync(
    'qemu-system-x86_64',
    ['-machine', 'pc,accel=tcg', '-nodefaults', '-display', 'none', '-S', '-qmp', 'stdio', ...ovfEnvCdromQemuArgs(iso)],
    { input: `${qmp}\n`, encoding: 'utf8', timeout: 60_000 },
  );
  t.equal(r.status, 0, r.stderr);
  const blocks = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { return?: unknown })
    .find((m) => Array.isArray(m.return))?.return as Array<{
    removable: boolean;
    inserted?: { file: string; ro: boolean };
  }>;
  t.match(
    blocks,
    [{ removable: true, inserted: { file: iso, ro: true } }],
    'a removable drive holding the ISO, read-only',
  );
});
