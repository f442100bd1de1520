// npm run bench:image — what each recipe adds to the same Debian 12 base, as installed megabytes
// and package count: the seed's hand steps (`apt-get upgrade`, then `apt-get install default-jdk
// libgl1-mesa-glx python3-pip zip open-vm-tools`, apt defaults = with Recommends) against ours
// (packer/scripts/packages.sh itself, run as on a VMware/vSphere build and as on the others).
//
// Base: `debootstrap --variant=minbase bookworm`, cached under .cache/bench-image/minbase (apt lists
// refreshed once there). Each recipe runs as root in a throwaway copy (chroot with /proc and /dev),
// downloads go to a shared cache dir, sizes come from dpkg-query's Installed-Size.
// Flags: --json (machine-readable), --keep (keep the recipe trees), --refresh (rebuild the base).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CACHE = join(REPO, '.cache/bench-image');
const BASE = join(CACHE, 'minbase');
const ARCHIVES = join(CACHE, 'archives');
const MIRROR = 'http://deb.debian.org/debian';
const args = new Set(process.argv.slice(2));
const json = args.has('--json');

const SEED_PACKAGES = ['default-jdk', 'libgl1-mesa-glx', 'python3-pip', 'zip', 'open-vm-tools'];

function say(msg: string): void {
  process.stderr.write(`bench:image: ${msg}\n`);
}

function sh(cmd: string, argv: string[], opts: { env?: NodeJS.ProcessEnv; quiet?: boolean } = {}): string {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${argv.join(' ')} exited ${r.status}\n${(r.stderr || '').split('\n').slice(-15).join('\n')}`,
    );
  }
  if (!opts.quiet && r.stderr)
    process.stderr.write(
      r.stderr
        .split('\n')
        .filter((l) => /^E:|^W:/.test(l))
        .map((l) => `  ${l}\n`)
        .join(''),
    );
  return r.stdout;
}

const mounted: string[] = [];
function mount(argv: string[], target: string): void {
  sh('mount', [...argv, target]);
  mounted.push(target);
}
function unmountAll(): void {
  while (mounted.length) {
    const m = mounted.pop()!;
    spawnSync('umount', ['-l', m]);
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    unmountAll();
    process.exit(130);
  });
}

const CHROOT_ENV = {
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
  DEBIAN_FRONTEND: 'noninteractive',
  LC_ALL: 'C',
  HOME: '/root',
};

function inChroot(root: string, argv: string[], extraEnv: Record<string, string> = {}): string {
  return sh('chroot', [root, ...argv], { env: { ...CHROOT_ENV, ...extraEnv } });
}

function ensureBase(): void {
  if (args.has('--refresh')) removeTree(BASE);
  if (!existsSync(join(BASE, 'var/lib/dpkg/status'))) {
    const partial = `${BASE}.partial`;
    rmSync(partial, { recursive: true, force: true });
    say(`debootstrap --variant=minbase bookworm -> ${BASE} (once; cached)`);
    sh('debootstrap', ['--variant=minbase', 'bookworm', partial, MIRROR], { quiet: true });
    renameSync(partial, BASE);
  }
  // Same suites as this host (bookworm, -updates, -security), lists refreshed once for all copies.
  const sources = [
    `deb ${MIRROR} bookworm main`,
    `deb ${MIRROR} bookworm-updates main`,
    'deb http://deb.debian.org/debian-security bookworm-security main',
    '',
  ].join('\n');
  if (!existsSync(join(BASE, '.bench-lists-ready'))) {
    writeFileSync(join(BASE, 'etc/apt/sources.list'), sources);
    // Never start services inside the chroot.
    writeFileSync(join(BASE, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    copyFileSync('/etc/resolv.conf', join(BASE, 'etc/resolv.conf'));
    say('apt-get update in the base (once; cached)');
    withMounts(BASE, () => inChroot(BASE, ['apt-get', '-q', 'update']));
    writeFileSync(join(BASE, '.bench-lists-ready'), new Date().toISOString());
  }
}

function withMounts<T>(root: string, fn: () => T): T {
  mkdirSync(ARCHIVES, { recursive: true });
  mkdirSync(join(root, 'var/cache/apt/archives'), { recursive: true });
  const start = mounted.length;
  try {
    mount(['-t', 'proc', 'proc'], join(root, 'proc'));
    mount(['--bind', '/dev'], join(root, 'dev'));
    mount(['--bind', '/dev/pts'], join(root, 'dev/pts'));
    mount(['--bind', ARCHIVES], join(root, 'var/cache/apt/archives'));
    return fn();
  } finally {
    while (mounted.length > start) spawnSync('umount', ['-l', mounted.pop()!]);
  }
}

interface Inventory {
  [pkg: string]: number; // KiB
}

function inventory(root: string): Inventory {
  const out = sh('dpkg-query', [
    `--admindir=${join(root, 'var/lib/dpkg')}`,
    '-W',
    '-f',
    '${db:Status-Abbrev}\t${Package}:${Architecture}\t${Installed-Size}\n',
  ]);
  const inv: Inventory = {};
  for (const line of out.split('\n')) {
    const [status, pkg, size] = line.split('\t');
    if (!pkg || !status?.startsWith('ii')) continue;
    inv[pkg] = Number(size || 0);
  }
  return inv;
}

interface Result {
  recipe: string;
  commands: string[];
  packagesAdded: number;
  addedMiB: number;
  totalPackages: number;
  totalMiB: number;
  javaPackages: string[];
  added: string[];
  notes: string[];
}

function runRecipe(name: string, steps: (root: string, notes: string[]) => string[], base: Inventory): Result {
  const root = join(CACHE, `work-${name}`);
  removeTree(root);
  say(`${name}: copying the base`);
  sh('cp', ['-a', BASE, root]);
  const notes: string[] = [];
  try {
    const commands = withMounts(root, () => steps(root, notes));
    const after = inventory(root);
    const added = Object.keys(after).filter((p) => !(p in base));
    const sum = (inv: Inventory) => Object.values(inv).reduce((a, b) => a + b, 0);
    return {
      recipe: name,
      commands,
      packagesAdded: added.length,
      addedMiB: (sum(after) - sum(base)) / 1024,
      totalPackages: Object.keys(after).length,
      totalMiB: sum(after) / 1024,
      javaPackages: added.filter((p) => /jdk|jre/.test(p)).sort(),
      added: added.sort(),
      notes,
    };
  } finally {
    if (!args.has('--keep')) removeTree(root);
  }
}

/** rm -rf a recipe tree, but never while something is still mounted inside it (/dev is bound there). */
function removeTree(root: string): void {
  const inside = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === root || m.startsWith(`${root}/`));
  if (inside.length > 0) throw new Error(`not removing ${root}: still mounted there: ${inside.join(', ')}`);
  rmSync(root, { recursive: true, force: true });
}

function seed(root: string, notes: string[]): string[] {
  let pkgs = [...SEED_PACKAGES];
  const known = spawnSync('chroot', [root, 'apt-cache', 'show', 'libgl1-mesa-glx'], {
    env: CHROOT_ENV,
    encoding: 'utf8',
  });
  if (known.status !== 0) {
    pkgs = pkgs.flatMap((p) => (p === 'libgl1-mesa-glx' ? ['libgl1', 'libglx-mesa0'] : [p]));
    notes.push('libgl1-mesa-glx is not in this archive: substituted its successors libgl1 + libglx-mesa0');
  } else {
    notes.push(
      'libgl1-mesa-glx exists in bookworm as a transitional package (-> libgl1 + libglx-mesa0): installed as written',
    );
  }
  say('seed: apt-get upgrade');
  inChroot(root, ['apt-get', '-q', '-y', 'upgrade']);
  say(`seed: apt-get install ${pkgs.join(' ')}`);
  inChroot(root, ['apt-get', '-q', '-y', 'install', ...pkgs]);
  return ['apt-get upgrade', `apt-get install ${pkgs.join(' ')}`];
}

function ours(builderType: string) {
  return (root: string): string[] => {
    const script = join(REPO, 'packer/scripts/packages.sh');
    writeFileSync(join(root, 'tmp/packages.sh'), readFileSync(script));
    say(`ours (${builderType}): packer/scripts/packages.sh`);
    const out = inChroot(root, ['sh', '-eu', '/tmp/packages.sh'], { PACKER_BUILDER_TYPE: builderType });
    process.stderr.write(
      out
        .split('\n')
        .filter((l) => l.startsWith('packages:'))
        .map((l) => `  ${l}\n`)
        .join(''),
    );
    // Offline re-run (the offline Debian base has the JRE preinstalled): with the mirror unreachable
    // the script must succeed without touching apt.
    const sources = join(root, 'etc/apt/sources.list');
    const saved = readFileSync(sources);
    writeFileSync(sources, 'deb http://127.0.0.1:9/debian bookworm main\n');
    try {
      const again = inChroot(root, ['sh', '-eu', '/tmp/packages.sh'], { PACKER_BUILDER_TYPE: builderType });
      if (!/already installed: .* \(no apt-get run\)/.test(again))
        throw new Error(`packages.sh re-run offline did not skip apt:\n${again}`);
      say(`ours (${builderType}): offline re-run skipped apt-get`);
    } finally {
      writeFileSync(sources, saved);
    }
    return [`PACKER_BUILDER_TYPE=${builderType} sh packer/scripts/packages.sh`];
  };
}

function main(): number {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench:image: needs root (debootstrap, chroot, mount)\n');
    return 5;
  }
  for (const tool of ['debootstrap', 'chroot', 'mount', 'dpkg-query']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      process.stderr.write(`bench:image: ${tool} is not installed (apt-get install debootstrap)\n`);
      return 5;
    }
  }
  ensureBase();
  const base = inventory(BASE);
  const started = Date.now();
  const results = [
    runRecipe('seed', seed, base),
    runRecipe('ours-vmware', ours('vmware-iso'), base),
    runRecipe('ours-qemu', ours('qemu'), base),
  ];
  const [s, v, q] = results as [Result, Result, Result];
  const ratio = v.addedMiB / s.addedMiB;
  const baseMiB = Object.values(base).reduce((a, b) => a + b, 0) / 1024;
  const summary = {
    base: { image: 'debootstrap --variant=minbase bookworm', packages: Object.keys(base).length, MiB: baseMiB },
    results,
    ratioVmwareToSeed: ratio,
    target: 0.25,
    met: ratio < 0.25,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync(join(CACHE, 'result.json'), `${JSON.stringify(summary, null, 2)}\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    const f = (n: number) => n.toFixed(1);
    const rows: [string, string, string, string][] = [
      ['', 'seed', 'ours (vmware/vsphere)', 'ours (qemu/virtualbox)'],
      ['packages added', String(s.packagesAdded), String(v.packagesAdded), String(q.packagesAdded)],
      ['installed MiB added', f(s.addedMiB), f(v.addedMiB), f(q.addedMiB)],
      ['total packages', String(s.totalPackages), String(v.totalPackages), String(q.totalPackages)],
      ['total installed MiB', f(s.totalMiB), f(v.totalMiB), f(q.totalMiB)],
      [
        'share of seed weight',
        '100.0 %',
        `${(ratio * 100).toFixed(2)} %`,
        `${((q.addedMiB / s.addedMiB) * 100).toFixed(2)} %`,
      ],
    ];
    const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
    const out = [
      `Debian 12 base: ${summary.base.image}, ${summary.base.packages} packages, ${f(baseMiB)} MiB installed`,
      ...rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')),
      `Java:  seed ${s.javaPackages.join(' ')}; ours ${v.javaPackages.join(' ')}`,
      `seed:  ${s.commands.join(' && ')}`,
      `ours:  ${v.commands.join('')}  (apt-get install --no-install-recommends)`,
      ...s.notes.map((n) => `note:  ${n}`),
      `ours (vmware) / seed = ${(ratio * 100).toFixed(2)} % of the installed weight the seed adds (target < 25 %): ${summary.met ? 'MET' : 'NOT MET'}`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  }
  return summary.met ? 0 : 1;
}

let code: number;
try {
  code = main();
} catch (err) {
  unmountAll();
  process.stderr.write(`bench:image: ${(err as Error).message}\n`);
  code = 5;
}
process.exit(code);
