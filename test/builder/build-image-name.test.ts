// greengrass-image build names each image: by default greengrass-golden-<nucleus>-<yyyymmdd>-<hhmmss> (UTC), in its
// own output dir, so a rebuild makes a new image beside the last; --image-name names it; the name reaches Packer as
// vm_name and is in the manifest and the image's build-info.json. An image of the same name is replaced only with
// --force. Packer is a stand-in here (a shell script that writes <vm_name>.qcow2 and packer-manifest.json, as the
// qemu builder and the manifest post-processor do): what is tested is what the builder gives it and makes of it.
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '../../common/errors.ts';
import {
  buildArtifacts,
  cliEnv,
  leftoverStages,
  runCli,
  seedClaim,
  startAwsStandin,
  tmp,
  ca,
  type AwsStandin,
} from './helpers.ts';

const work = tmp('gg-build-name-');
const artifacts = buildArtifacts(work);

/** Records its arguments, writes <output_directory>/<vm_name>.qcow2 and the manifest. */
const packer = join(work, 'packer');
writeFileSync(
  packer,
  [
    '#!/bin/sh',
    '[ "$1" = version ] && { echo "Packer v1.6.6"; exit 0; }',
    'for a in "$@"; do case "$a" in output_directory=*) O="${a#output_directory=}" ;; vm_name=*) N="${a#vm_name=}" ;; esac; done',
    'mkdir -p "$(dirname "$O")" && printf "%s\\n" "$@" > "$O.args"',
    // As the qemu builder: a non-empty output dir is an error, unless -force, which deletes it first.
    'if [ -d "$O" ] && [ -n "$(ls -A "$O")" ]; then',
    '  case " $* " in *" -force "*) rm -rf "$O" ;; *) echo "Output directory exists: $O" >&2; exit 1 ;; esac',
    'fi',
    'mkdir -p "$O" && echo "image $N" > "$O/$N.qcow2"',
    'printf \'{"builds":[{"name":"ubuntu","artifact_id":"%s"}]}\\n\' "$N" > "$O/packer-manifest.json"',
    '',
  ].join('\n'),
);
chmodSync(packer, 0o755);

let s: AwsStandin;
t.before(async () => {
  s = await startAwsStandin({
    ca,
    endpoints: { region: 'eu-west-1', iotDataEndpoint: '10.0.2.2', iotCredEndpoint: '10.0.2.2' },
  });
  await seedClaim(s, 'dev');
});
t.teardown(() => s.close());

/** `build` in `cwd` (the default output dir is relative to it). */
function build(cwd: string, ...extra: string[]) {
  const flags = { target: 'qemu', env: 'dev', packer, 'cache-dir': join(work, 'cache'), ...artifacts };
  const args = ['build', '--skip-agent-build', ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]), ...extra];
  return runCli(args, cliEnv(s, { TMPDIR: cwd, AWS_EC2_METADATA_DISABLED: 'true' }), cwd);
}

interface Manifest {
  imageName: string;
  outputDirectory: string;
  nucleusVersion: string;
  packerManifest: { builds: { artifact_id: string }[] };
}
const manifestOf = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'greengrass-image-manifest.json'), 'utf8')) as Manifest;

t.test('default names: versioned, one output dir each, so a rebuild sits beside the last image', async (t) => {
  const cwd = tmp('gg-build-name-default-');
  const first = await build(cwd);
  t.equal(first.code, ExitCode.OK, first.stderr.slice(-600));
  await new Promise((r) => setTimeout(r, 1100)); // the name's clock has whole seconds
  const second = await build(cwd);
  t.equal(second.code, ExitCode.OK, 'the rebuild needs no --force: ' + second.stderr.slice(-600));

  const names = readdirSync(join(cwd, 'output-qemu'))
    .filter((n) => !n.endsWith('.args'))
    .sort();
  t.equal(names.length, 2, 'two images, one dir each, under output-qemu/');
  for (const name of names) t.match(name, /^greengrass-golden-2\.16\.0-\d{8}-\d{6}$/, 'family, nucleus, UTC date-time');
  const [older, newer] = names;
  const now = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  t.ok(older!.includes(`-${now}-`) || newer!.includes(`-${now}-`), "today's UTC date is in the name");
  for (const [name, run] of [
    [older!, first],
    [newer!, second],
  ] as const) {
    const dir = join(cwd, 'output-qemu', name);
    t.equal(readFileSync(join(dir, `${name}.qcow2`), 'utf8'), `image ${name}\n`, `${name}: Packer's vm_name`);
    const m = manifestOf(dir);
    t.equal(m.imageName, name, 'the manifest names the image');
    t.equal(m.outputDirectory, dir);
    t.equal(m.packerManifest.builds[0]?.artifact_id, name);
    t.match(run.stderr, new RegExp(`packer build -only=qemu\\.ubuntu: image ${name} `), 'progress names the image');
    t.match(run.stdout, new RegExp(`image built: ${name} in ${dir}`));
  }
  t.same(leftoverStages(cwd), [], 'staging dirs removed');
});

t.test('--image-name: the name; the same name again is refused (exit 3) until --force replaces it', async (t) => {
  const cwd = tmp('gg-build-name-given-');
  const first = await build(cwd, '--image-name', 'branch-cores-2026.12.1');
  t.equal(first.code, ExitCode.OK, first.stderr.slice(-600));
  const dir = join(cwd, 'output-qemu', 'branch-cores-2026.12.1');
  t.equal(manifestOf(dir).imageName, 'branch-cores-2026.12.1');
  const args = readFileSync(`${dir}.args`, 'utf8').split('\n');
  t.ok(args.includes('vm_name=branch-cores-2026.12.1'), 'packer -var vm_name');
  t.notOk(args.includes('-force'), 'no -force unless asked');
  t.ok(
    args.indexOf('vm_name=branch-cores-2026.12.1') >
      Math.max(...args.flatMap((a, i) => (a.startsWith('-var-file=') ? [i] : []))),
    "after the var-files: the builder's name wins over a site file's vm_name",
  );

  const again = await build(cwd, '--image-name', 'branch-cores-2026.12.1');
  t.equal(again.code, ExitCode.CONFIG, 'exit 3');
  t.match(
    again.stderr,
    /error: output dir .*branch-cores-2026\.12\.1 already exists and is not empty \(an earlier build of image branch-cores-2026\.12\.1\?\): pass --force to replace it/,
  );
  t.notMatch(again.stderr, /staging in /, 'refused before anything was staged');
  const before = readFileSync(join(dir, 'greengrass-image-manifest.json'), 'utf8');
  t.equal(manifestOf(dir).imageName, 'branch-cores-2026.12.1', 'the earlier image is kept');

  writeFileSync(join(dir, 'left-by-the-earlier-build'), '');
  const forced = await build(cwd, '--image-name', 'branch-cores-2026.12.1', '--force');
  t.equal(forced.code, ExitCode.OK, forced.stderr.slice(-600));
  t.ok(readFileSync(`${dir}.args`, 'utf8').split('\n').includes('-force'), 'packer -force');
  t.notOk(existsSync(join(dir, 'left-by-the-earlier-build')), 'the earlier image replaced');
  t.not(readFileSync(join(dir, 'greengrass-image-manifest.json'), 'utf8'), before, 'a new manifest');
  t.equal(manifestOf(dir).imageName, 'branch-cores-2026.12.1');
});

t.test('bad names: exit 2 before anything is made', async (t) => {
  const cwd = tmp('gg-build-name-bad-');
  for (const [extra, message] of [
    [['--image-name', 'gg/../x'], /--image-name "gg\/\.\.\/x": an image name is 1-80 letters, digits/],
    [['--image-name=-dash'], /--image-name "-dash": an image name/],
    [['--image-name', 'x'.repeat(81)], /an image name is 1-80/],
    [
      ['--nucleus-version', '2.16.0 beta'],
      /--nucleus-version 2\.16\.0 beta makes the image name "greengrass-golden-2\.16\.0 beta-\d{8}-\d{6}"/,
    ],
    [['--var', 'vm_name=x'], /--var vm_name is set by the builder; use --image-name/],
  ] as const) {
    const r = await build(cwd, ...extra);
    t.equal(r.code, ExitCode.USAGE, `${extra.join(' ')}: exit 2`);
    t.match(r.stderr, message);
    t.notMatch(r.stderr, /staging in /, 'nothing staged');
  }
  t.notOk(existsSync(join(cwd, 'output-qemu')), 'no output dir');
});

t.test('--image-name from the settings file', async (t) => {
  const cwd = tmp('gg-build-name-settings-');
  mkdirSync(join(cwd, 'site'));
  const settings = join(cwd, 'site', 'settings.yaml');
  writeFileSync(settings, 'image-name: from-settings-1\n');
  const r = await build(cwd, '--settings', settings);
  t.equal(r.code, ExitCode.OK, r.stderr.slice(-600));
  t.equal(manifestOf(join(cwd, 'output-qemu', 'from-settings-1')).imageName, 'from-settings-1');
});
