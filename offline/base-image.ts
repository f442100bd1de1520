// Offline base image: Debian 12 (bookworm) built with debootstrap, as an ext4 filesystem image (no partition
// table) converted to qcow2, with the kernel and initrd beside it for QEMU's direct kernel boot.
// Cached under .cache/base-image/<content hash of the recipe>/ so it is built once.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError } from '../common/errors.ts';
import { REPO_ROOT } from '../common/repo-root.ts';
import { run, stderrProgress, type Progress } from './proc.ts';

export { REPO_ROOT };
const CONFIGURE_SCRIPT = join(REPO_ROOT, 'offline', 'base-configure.sh');

export interface BaseImageRecipe {
  suite: string;
  mirror: string;
  variant: string;
  packages: string[];
  /** Size of the ext4 filesystem (the guest's whole root disk). */
  diskSizeMiB: number;
  /** sha256 of offline/base-configure.sh (the in-chroot configuration). */
  configureSha256: string;
}

export interface BaseImage {
  key: string;
  dir: string;
  /** qcow2 of the root filesystem (whole disk = ext4, no partition table). */
  disk: string;
  kernel: string;
  initrd: string;
  /** Kernel command line for direct kernel boot. */
  append: string;
  hostname: string;
  buildUser: string;
  buildPassword: string;
  builtAt: string;
  buildSeconds: number;
}

/** The apt mirror that works here (first URI in /etc/apt/sources.list*), overridable with OFFLINE_DEBIAN_MIRROR. */
export function debianMirror(): string {
  if (process.env.OFFLINE_DEBIAN_MIRROR) return process.env.OFFLINE_DEBIAN_MIRROR;
  const files = [
    '/etc/apt/sources.list',
    ...safeList('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)),
  ];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    // deb822 (URIs: ... with Suites: bookworm) or one-line "deb URL bookworm main".
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1] ?? '';
      if (uri && /\bbookworm\b/.test(suites) && /\/debian\/?$/.test(uri)) return uri;
    }
    const one = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian\/?)\s+bookworm\s/m.exec(text);
    if (one) return one[1];
  }
  return 'http://deb.debian.org/debian';
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function defaultRecipe(): BaseImageRecipe {
  return {
    suite: 'bookworm',
    mirror: debianMirror(),
    variant: 'minbase',
    packages: [
      'systemd',
      'systemd-sysv',
      'udev',
      'kmod',
      'dbus',
      'libpam-systemd',
      'openssh-server',
      'sudo',
      'linux-image-amd64',
      'initramfs-tools',
      'openjdk-17-jre-headless',
      'unzip',
      'ca-certificates',
      'iproute2',
      'iputils-ping',
      'procps',
      'e2fsprogs',
      // The offline bake makes an OVA (--format ova), whose image must carry VMware's tools (packages.sh).
      'open-vm-tools',
    ],
    diskSizeMiB: 6144,
    configureSha256: createHash('sha256').update(readFileSync(CONFIGURE_SCRIPT)).digest('hex'),
  };
}

export function recipeKey(r: BaseImageRecipe): string {
  const canon = JSON.stringify({ ...r, packages: [...r.packages].sort() });
  return createHash('sha256').update(canon).digest('hex').slice(0, 16);
}

export function cacheRoot(): string {
  return process.env.OFFLINE_CACHE_DIR ?? join(REPO_ROOT, '.cache');
}

/** Reads a cached base image (null if not built yet). */
export function cachedBaseImage(recipe = defaultRecipe()): BaseImage | null {
  const dir = join(cacheRoot(), 'base-image', recipeKey(recipe));
  const meta = join(dir, 'base.json');
  if (!existsSync(meta)) return null;
  const b = JSON.parse(readFileSync(meta, 'utf8')) as BaseImage;
  for (const f of [b.disk, b.kernel, b.initrd]) if (!existsSync(f)) return null;
  return b;
}

/** Builds the base image if it is not cached yet; returns it. Needs root (debootstrap, chroot). */
export async function ensureBaseImage(
  opts: { progress?: Progress; recipe?: BaseImageRecipe } = {},
): Promise<BaseImage> {
  const progress = opts.progress ?? stderrProgress;
  const recipe = opts.recipe ?? defaultRecipe();
  const key = recipeKey(recipe);
  const cached = cachedBaseImage(recipe);
  if (cached) {
    progress(`base image: cached ${cached.dir}`);
    return cached;
  }
  if (process.getuid?.() !== 0)
    throw new ToolError(
      'base image: building needs root (debootstrap, chroot, mkfs.ext4 -d with ownership)',
      'needs-root',
    );
  const root = join(cacheRoot(), 'base-image');
  mkdirSync(root, { recursive: true });
  const lock = join(root, `${key}.lock`);
  await takeLock(lock, progress);
  try {
    const again = cachedBaseImage(recipe);
    if (again) return again;
    return await build(recipe, key, root, progress);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function takeLock(lock: string, progress: Progress): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return;
    } catch {
      let pid = 0;
      try {
        pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        /* being created */
      }
      if (pid && !alive(pid)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (i % 30 === 0) progress(`base image: waiting for another build (pid ${pid}) to finish`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function build(recipe: BaseImageRecipe, key: string, root: string, progress: Progress): Promise<BaseImage> {
  const started = Date.now();
  const work = join(root, `${key}.building`);
  // A build killed earlier may have left its tmpfs (and debootstrap's /proc, /sys) mounted there.
  if (existsSync(join(work, 'rootfs'))) spawnSync('umount', ['-R', '-l', join(work, 'rootfs')], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const log = join(work, 'build.log');
  const tree = join(work, 'rootfs');
  const debs = join(cacheRoot(), 'debootstrap-debs');
  mkdirSync(debs, { recursive: true });
  mkdirSync(tree);
  const inMemory = await mountTmpfs(tree, log);
  progress(`base image: root tree ${inMemory ? 'in memory (tmpfs)' : 'on disk (tmpfs mount refused)'}`);
  try {
    await fillTree(recipe, tree, work, debs, log, progress);
  } finally {
    if (inMemory) await run('umount', ['-R', '-l', tree], { stage: 'base image: umount', logFile: log });
  }
  return finish(recipe, key, root, work, started, progress);
}

/**
 * The root tree only feeds `mkfs.ext4 -d`, so it lives in a tmpfs: dpkg syncs every file it unpacks (a few
 * thousand fsyncs in debootstrap and the kernel's postinst), which on a VM's disk is most of the build's time.
 */
async function mountTmpfs(tree: string, log: string): Promise<boolean> {
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=6g,mode=0755', 'tmpfs', tree], {
      stage: 'base image: tmpfs',
      logFile: log,
    });
    return true;
  } catch {
    return false;
  }
}

async function fillTree(
  recipe: BaseImageRecipe,
  tree: string,
  work: string,
  debs: string,
  log: string,
  progress: Progress,
): Promise<void> {
  progress(`base image: debootstrap ${recipe.suite} from ${recipe.mirror} (log ${log})`);
  await run(
    'debootstrap',
    [
      `--variant=${recipe.variant}`,
      `--include=${recipe.packages.join(',')}`,
      `--cache-dir=${debs}`,
      recipe.suite,
      tree,
      recipe.mirror,
    ],
    {
      stage: 'base image: debootstrap',
      logFile: log,
      progress,
      timeoutMs: 60 * 60_000,
      // INITRD=No: the kernel's postinst makes no initramfs; configure builds the one the image keeps, after
      // pruning modules (otherwise it is built three times, about a minute each).
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', INITRD: 'No' },
    },
  );
  progress('base image: configuring (hostname, build account, networkd, journal)');
  copyFileSync(CONFIGURE_SCRIPT, join(tree, 'root', 'base-configure.sh'));
  await run('chroot', [tree, '/bin/sh', '/root/base-configure.sh'], {
    stage: 'base image: configure',
    logFile: log,
    progress,
  });
  rmSync(join(tree, 'root', 'base-configure.sh'));

  const boot = join(tree, 'boot');
  const vmlinuz = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
  const initrd = readdirSync(boot).find((f) => f.startsWith('initrd.img-'));
  if (!vmlinuz || !initrd) throw new ToolError(`base image: no kernel/initrd in ${boot} (log: ${log})`, 'no-kernel');
  copyFileSync(join(boot, vmlinuz), join(work, 'vmlinuz'));
  copyFileSync(join(boot, initrd), join(work, 'initrd.img'));

  progress('base image: mkfs.ext4 -d + qemu-img convert');
  const raw = join(work, 'rootfs.ext4');
  await run('truncate', ['-s', `${recipe.diskSizeMiB}M`, raw], { stage: 'base image: mkfs', logFile: log, progress });
  await run('mkfs.ext4', ['-q', '-F', '-L', 'golden-root', '-d', tree, raw], {
    stage: 'base image: mkfs',
    logFile: log,
    progress,
  });
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, join(work, 'disk.qcow2')], {
    stage: 'base image: qemu-img',
    logFile: log,
    progress,
  });
  rmSync(raw);
}

async function finish(
  recipe: BaseImageRecipe,
  key: string,
  root: string,
  work: string,
  started: number,
  progress: Progress,
): Promise<BaseImage> {
  rmSync(join(work, 'rootfs'), { recursive: true, force: true });
  const dir = join(root, key);
  const base: BaseImage = {
    key,
    dir,
    disk: join(dir, 'disk.qcow2'),
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    append: 'root=/dev/vda rw console=ttyS0',
    hostname: 'golden-template',
    buildUser: 'packer',
    buildPassword: 'packer',
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync(join(work, 'recipe.json'), JSON.stringify(recipe, null, 2) + '\n');
  writeFileSync(join(work, 'base.json'), JSON.stringify(base, null, 2) + '\n');
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  const size = statSync(base.disk).size;
  progress(`base image: built ${dir} in ${base.buildSeconds} s (qcow2 ${(size / 2 ** 20).toFixed(0)} MiB)`);
  return base;
}

// `tsx offline/base-image.ts` builds (or shows) the cached base image.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureBaseImage()
    .then((b) => process.stdout.write(JSON.stringify(b, null, 2) + '\n'))
    .catch((e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exit((e as { exitCode?: number }).exitCode ?? 1);
    });
}
