// Builds the Greengrass installer STAND-IN (standins/installer/src, Java sources, no external libs; bytecode for Java 11+ like the JRE the docs recommend) with
// javac + jar, once per source hash, cached in <repo>/.cache/standin-installer/<sha256>/. Also helpers to
// stop the stand-in's detached nucleus. No tap imports: the offline pipeline uses this too.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../common/repo-root.ts';

const run = promisify(execFile);
export { REPO_ROOT };
export const INSTALLER_SOURCES = join(REPO_ROOT, 'standins', 'installer', 'src');

export interface InstallerStandinJars {
  /** Greengrass.jar: Main-Class standin.Installer; also holds standin.Nucleus. */
  installerJar: string;
  /** fleetprovisioningbyclaim-standin.jar: a valid jar the installer copies to plugins/trusted/. */
  pluginJar: string;
  /** Classpath for `java -cp <classpathJar> standin.Nucleus --root <root>` (the same Greengrass.jar). */
  classpathJar: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.java')) out.push(p);
  }
  return out.sort();
}

/** sha256 over the Java sources (path + content) and this builder's own text. */
export function installerSourceHash(): string {
  const h = createHash('sha256');
  for (const f of sourceFiles(INSTALLER_SOURCES)) {
    h.update(f.slice(INSTALLER_SOURCES.length));
    h.update('\0');
    h.update(readFileSync(f));
    h.update('\0');
  }
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  return h.digest('hex');
}

let inFlight: Promise<InstallerStandinJars> | undefined;

export function buildInstallerStandin(): Promise<InstallerStandinJars> {
  inFlight ??= build().catch((err: unknown) => {
    inFlight = undefined;
    throw err;
  });
  return inFlight;
}

async function build(): Promise<InstallerStandinJars> {
  const hash = installerSourceHash();
  const cacheRoot = join(REPO_ROOT, '.cache', 'standin-installer');
  const dir = join(cacheRoot, hash);
  const jars: InstallerStandinJars = {
    installerJar: join(dir, 'Greengrass.jar'),
    pluginJar: join(dir, 'fleetprovisioningbyclaim-standin.jar'),
    classpathJar: join(dir, 'Greengrass.jar'),
  };
  if (existsSync(join(dir, '.complete'))) return jars;
  mkdirSync(cacheRoot, { recursive: true });
  const work = mkdtempSync(join(cacheRoot, `.build-${hash.slice(0, 12)}-`));
  try {
    const classes = join(work, 'classes');
    mkdirSync(classes);
    try {
      await run('javac', ['--release', '11', '-encoding', 'UTF-8', '-d', classes, ...sourceFiles(INSTALLER_SOURCES)]);
    } catch (err) {
      const e = err as { stderr?: string; code?: string; message: string };
      if (e.code === 'ENOENT')
        throw new Error('javac not found: install a JDK (openjdk-17-jdk-headless) to build the installer stand-in', {
          cause: err,
        });
      throw new Error(`javac failed for the installer stand-in:\n${e.stderr ?? e.message}`, { cause: err });
    }
    const out = join(work, 'out');
    mkdirSync(out);
    await run('jar', [
      '--create',
      '--file',
      join(out, 'Greengrass.jar'),
      '--main-class',
      'standin.Installer',
      '-C',
      classes,
      '.',
    ]);
    const plugin = join(work, 'plugin');
    mkdirSync(join(plugin, 'standin'), { recursive: true });
    writeFileSync(
      join(plugin, 'standin', 'FLEET-PROVISIONING-PLUGIN-STANDIN.txt'),
      'STAND-IN for fleetprovisioningbyclaim.jar: the installer only copies it to plugins/trusted/; standin.Nucleus provides the behaviour.\n',
    );
    // The builder bakes only a jar with the real plugin's layout: a manifest naming GG-Plugin-Class and that class.
    const pluginSrc = join(work, 'plugin-src', 'com', 'aws', 'greengrass');
    mkdirSync(pluginSrc, { recursive: true });
    writeFileSync(
      join(pluginSrc, 'FleetProvisioningByClaimPlugin.java'),
      'package com.aws.greengrass;\n/** STAND-IN: the layout of the real plugin class; standin.Nucleus provides the behaviour. */\n' +
        'public final class FleetProvisioningByClaimPlugin {}\n',
    );
    await run('javac', ['--release', '11', '-d', plugin, join(pluginSrc, 'FleetProvisioningByClaimPlugin.java')]);
    const manifest = join(work, 'plugin.mf');
    writeFileSync(manifest, 'GG-Plugin-Class: com.aws.greengrass.FleetProvisioningByClaimPlugin\n');
    await run('jar', [
      '--create',
      '--file',
      join(out, 'fleetprovisioningbyclaim-standin.jar'),
      '--manifest',
      manifest,
      '-C',
      plugin,
      '.',
    ]);
    writeFileSync(join(out, '.complete'), `${new Date().toISOString()}\n`);
    try {
      renameSync(out, dir);
    } catch (err) {
      // another process finished the same build first: theirs is identical
      if (!existsSync(join(dir, '.complete'))) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return jars;
}

/** The pid in <root>/alts/loader.pid, if that process is alive. */
export function nucleusPid(root: string): number | undefined {
  const f = join(root, 'alts', 'loader.pid');
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined; // never 0/1: kill(-1) would signal every process
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Stop the stand-in's detached nucleus (its own process group): TERM, then KILL after `graceMs`. */
export async function stopStandinNucleus(rootDir: string, graceMs = 5000): Promise<void> {
  const root = resolve(rootDir);
  const pid = nucleusPid(root);
  if (pid === undefined) return;
  const cmdline = (() => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  })();
  if (!cmdline.includes('standin.Nucleus') || !cmdline.includes(root)) return; // pid reused by something else
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signalGroup('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  signalGroup('SIGKILL');
}
