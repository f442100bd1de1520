// Boot harness for the offline pipeline: one QEMU (TCG, no KVM) per clone, booted from a qcow2 overlay whose
// backing file is the sealed image, direct kernel boot, user-mode networking (the host's loopback services are
// reachable from the guest at 10.0.2.2), serial console captured to a file, QMP for a clean system_powerdown,
// and a hard timeout that kills QEMU. Results are read afterwards from the serial log and from the disk
// (qemu-img convert to raw + debugfs, no mount) — see readGuestFile / guestJournal.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, closeSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { ToolError } from '../common/errors.ts';
import { liveChildren, refuseWhenStopping, run } from './proc.ts';

export interface VmOptions {
  name: string;
  /** The clone's own disk: a qcow2 overlay. Created on the backing file if it does not exist (first boot). */
  overlay: string;
  /** Backing file for a new overlay (the sealed image). */
  backingFile?: string;
  kernel: string;
  initrd: string;
  /** Base kernel command line, e.g. "root=/dev/vda rw console=ttyS0". */
  append: string;
  /** Extra kernel command line words, e.g. ["systemd.hostname=branch-017"]. */
  extraAppend?: string[];
  /** Further QEMU arguments (devices), e.g. a CD-ROM drive. */
  extraArgs?: string[];
  /** SMBIOS system UUID (distinct per clone). Default: random. */
  uuid?: string;
  memoryMiB?: number;
  cpus?: number;
  /** Serial console goes here (appended). */
  serialLog: string;
  /** Directory for the QMP socket and QEMU's own stderr. */
  runDir: string;
  /** Hard timeout: QEMU is killed after this many ms. */
  timeoutMs: number;
}

export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  ms: number;
}

/** Creates a qcow2 overlay backed by `backing` (absolute path stored). */
export async function createOverlay(backing: string, overlay: string, logFile: string): Promise<void> {
  mkdirSync(dirname(overlay), { recursive: true });
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', backing, overlay], {
    stage: 'clone: overlay',
    logFile,
  });
}

export function qemuArgs(o: VmOptions, qmpSocket: string): string[] {
  const append = [o.append, ...(o.extraAppend ?? [])].join(' ').trim();
  return [
    '-name',
    o.name,
    '-machine',
    'pc,accel=tcg',
    '-cpu',
    'max',
    '-smp',
    String(o.cpus ?? 1),
    '-m',
    String(o.memoryMiB ?? 1024),
    '-uuid',
    o.uuid ?? randomUUID(),
    '-kernel',
    o.kernel,
    '-initrd',
    o.initrd,
    '-append',
    append,
    '-drive',
    `file=${o.overlay},if=virtio,format=qcow2,cache=writeback`,
    '-netdev',
    'user,id=n0',
    '-device',
    'virtio-net-pci,netdev=n0',
    '-rtc',
    'base=utc,clock=host',
    '-display',
    'none',
    '-vga',
    'none',
    '-monitor',
    'none',
    '-serial',
    `file:${o.serialLog}`,
    '-qmp',
    `unix:${qmpSocket},server=on,wait=off`,
    '-no-reboot',
    ...(o.extraArgs ?? []),
  ];
}

export class Vm {
  readonly options: VmOptions;
  readonly qmpSocket: string;
  readonly startedAt = Date.now();
  readonly exited: Promise<VmExit>;
  private child: ChildProcess;
  private done = false;
  private timedOut = false;

  private constructor(o: VmOptions) {
    this.options = o;
    mkdirSync(o.runDir, { recursive: true });
    mkdirSync(dirname(o.serialLog), { recursive: true });
    this.qmpSocket = join(o.runDir, `${o.name}.qmp`);
    rmSync(this.qmpSocket, { force: true });
    refuseWhenStopping(`VM ${o.name}`);
    const errFd = openSync(join(o.runDir, `${o.name}.qemu.stderr`), 'a');
    this.child = spawn('qemu-system-x86_64', qemuArgs(o, this.qmpSocket), { stdio: ['ignore', errFd, errFd] });
    closeSync(errFd);
    const kill = () => this.kill();
    liveChildren.add(kill);
    const killer = setTimeout(() => {
      this.timedOut = true;
      this.kill();
    }, o.timeoutMs);
    this.exited = new Promise((resolve) => {
      const fin = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.done) return;
        this.done = true;
        liveChildren.delete(kill);
        clearTimeout(killer);
        resolve({ code, signal, timedOut: this.timedOut, ms: Date.now() - this.startedAt });
      };
      this.child.on('exit', fin);
      this.child.on('error', () => fin(127, null));
    });
  }

  /** Boots a VM (creating the overlay on the backing file first if needed). */
  static async boot(o: VmOptions): Promise<Vm> {
    if (!existsSync(o.overlay)) {
      if (!o.backingFile) throw new ToolError(`clone ${o.name}: no disk ${o.overlay} and no backing file`, 'no-disk');
      await createOverlay(o.backingFile, o.overlay, join(o.runDir, `${o.name}.qemu.stderr`));
    }
    for (const f of [o.kernel, o.initrd])
      if (!existsSync(f)) throw new ToolError(`clone ${o.name}: missing ${f}`, 'no-kernel');
    return new Vm(o);
  }

  get running(): boolean {
    return !this.done;
  }

  serial(): string {
    try {
      return readFileSync(this.options.serialLog, 'utf8');
    } catch {
      return '';
    }
  }

  /** Resolves with the match once `re` appears on the serial console; null on timeout or if QEMU exits first. */
  async waitForSerial(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray | null> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = this.serial().match(re);
      if (m) return m;
      if (!this.running || Date.now() > until) return null;
      await sleep(500);
    }
  }

  /** Sends a QMP command (after capabilities negotiation). */
  async qmp(command: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const sock = connect(this.qmpSocket);
      let buf = '';
      let step = 0;
      const t = setTimeout(() => {
        sock.destroy();
        reject(new Error(`QMP ${command}: no answer`));
      }, 10_000);
      sock.on('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
      sock.on('data', (d) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const msg = JSON.parse(line) as Record<string, unknown>;
          if (msg.QMP && step === 0) {
            step = 1;
            sock.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
          } else if ('return' in msg && step === 1) {
            step = 2;
            sock.write(JSON.stringify({ execute: command }) + '\n');
          } else if (('return' in msg || 'error' in msg) && step === 2) {
            clearTimeout(t);
            sock.end();
            if ('error' in msg) reject(new Error(`QMP ${command}: ${JSON.stringify(msg.error)}`));
            else resolve(msg.return);
          }
        }
      });
    });
  }

  /** ACPI power button (clean shutdown); kills QEMU if the guest has not powered off within timeoutMs. */
  async powerdown(timeoutMs = 120_000): Promise<VmExit> {
    if (this.running) {
      try {
        await this.qmp('system_powerdown');
      } catch {
        this.kill();
      }
      const t = setTimeout(() => this.kill(), timeoutMs);
      const r = await this.exited;
      clearTimeout(t);
      return r;
    }
    return this.exited;
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Converts a (powered-off) qcow2 disk to a raw file that debugfs can read. */
export async function diskToRaw(disk: string, raw: string, logFile: string): Promise<void> {
  rmSync(raw, { force: true });
  await run('qemu-img', ['convert', '-O', 'raw', disk, raw], { stage: 'read disk: qemu-img convert', logFile });
}

/** Reads a file from an ext4 raw image (null if it does not exist). */
export async function readGuestFile(raw: string, path: string, logFile: string): Promise<string | null> {
  if (!(await guestPathExists(raw, path, logFile))) return null;
  return run('debugfs', ['-R', `cat ${path}`, raw], { stage: 'read disk: debugfs', logFile: '/dev/null' });
}

/** True if the path exists in the ext4 raw image. */
export async function guestPathExists(raw: string, path: string, logFile: string): Promise<boolean> {
  // debugfs exits 0 even when the path is missing; its stat prints "File not found by ext2_lookup".
  const out = await runCapture('debugfs', ['-R', `stat ${path}`, raw], logFile);
  return !/File not found|not found by ext2_lookup/i.test(out);
}

/** Lists a directory in the ext4 raw image (names only; null if missing). */
export async function listGuestDir(raw: string, path: string, logFile: string): Promise<string[] | null> {
  if (!(await guestPathExists(raw, path, logFile))) return null;
  const out = await run('debugfs', ['-R', `ls -p ${path}`, raw], { stage: 'read disk: debugfs', logFile: '/dev/null' });
  // ls -p lines: /inode/mode/uid/gid/name/size/
  return out
    .split('\n')
    .map((l) => l.split('/'))
    .filter((p) => p.length >= 6 && p[5] !== '.' && p[5] !== '..')
    .map((p) => p[5]);
}

/** Mode/uid/gid of a guest path (null if missing). */
export async function statGuest(
  raw: string,
  path: string,
  logFile: string,
): Promise<{ mode: number; uid: number; gid: number } | null> {
  const out = await runCapture('debugfs', ['-R', `stat ${path}`, raw], logFile);
  const m = /Mode:\s+(\d+)/.exec(out);
  const u = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(out);
  if (/File not found/.test(out) || !m || !u) return null;
  return { mode: parseInt(m[1], 8), uid: Number(u[1]), gid: Number(u[2]) };
}

/** The guest's persistent journal, exported with the host's journalctl (short-iso, all boots). */
export async function guestJournal(
  raw: string,
  workDir: string,
  logFile: string,
  extra: string[] = [],
): Promise<string> {
  const dest = join(workDir, 'journal');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  await run('debugfs', ['-R', `rdump /var/log/journal ${dest}`, raw], { stage: 'read disk: journal', logFile });
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.journal') || e.name.endsWith('.journal~')) files.push(join(d, e.name));
    }
  };
  walk(dest);
  if (files.length === 0) return '';
  return run('journalctl', ['--no-pager', '-o', 'short-iso', ...extra, ...files.flatMap((f) => ['--file', f])], {
    stage: 'read disk: journalctl',
    logFile: '/dev/null',
  });
}

async function runCapture(cmd: string, args: string[], logFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('error', (e) => reject(new ToolError(`${cmd}: ${e.message} (log ${logFile})`, 'tool-missing')));
    c.on('close', () => resolve(out));
  });
}
