// The shared-JVM host mode of the installer / nucleus STAND-IN (standins/installer/src/standin/Host.java): one JVM
// serves the installer invocations and the nucleus lifecycles of many device roots. This starts that host and
// writes its clients: a `java` shim (bash over /dev/tcp, milliseconds per call instead of a JVM start) that the agent
// runs as its installer.java, with a `release` file beside it for the agent's preflight, and `standin-hostctl
// restart|stop|status ROOT`, the stand-in "systemctl" (the agent's service.restartCommand in host mode).
// No tap imports: bench:fleet uses this too. Every process here is a stand-in.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import type { InstallerStandinJars } from './standin-installer.ts';

export interface StandinHost {
  pid: number;
  port: number;
  /** Where the shims, the port file and host.log live. */
  dir: string;
  /** The `java` shim: give it to the agent as installer.java. */
  java: string;
  /** `standin-hostctl restart|stop|status ROOT`. */
  hostctl: string;
  /** The host JVM's own output. */
  logPath: string;
  /** The agent's service.restartCommand for this root in host mode. */
  restartCommand(ggRoot: string): string[];
  /** "systemctl stop" of that root's nucleus (a thread in the host). */
  stopNucleus(ggRoot: string): Promise<void>;
  /** Whether that root's nucleus is running. */
  active(ggRoot: string): Promise<boolean>;
  /** nuclei (alive), nucleusStarts, installs, threads, heapUsedMB, heapMaxMB. */
  stats(): Promise<Record<string, number>>;
  /**
   * Stop the host JVM (and with it every nucleus thread); removes dir unless keep. Resolves to how it exited:
   * code 0 when it halted on its own at stdin EOF, signal SIGKILL when it had to be killed; null if already gone.
   */
  close(opts?: { keep?: boolean }): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null>;
}

export interface StandinHostOptions {
  /** JVM options for the host (default a small serial-GC heap sized for ~1000 nuclei). */
  javaOpts?: string[];
  /** Directory for the shims and the port file (default: a new temp dir). */
  dir?: string;
}

export const DEFAULT_HOST_JAVA_OPTS = ['-Xms64m', '-Xmx512m', '-XX:+UseSerialGC', '-Xss512k'];

/** JAVA_VERSION for the shim's release file: the real JDK's, which the host runs on. */
function realJavaRelease(): string {
  for (const d of (process.env.PATH ?? '/usr/bin').split(delimiter)) {
    const j = join(d, 'java');
    if (!existsSync(j)) continue;
    try {
      const rel = join(dirname(dirname(realpathSync(j))), 'release');
      const text = readFileSync(rel, 'utf8');
      if (/^JAVA_VERSION=/m.test(text)) return text;
    } catch {
      // no release file
    }
  }
  return 'JAVA_VERSION="17"\n';
}

const READ_REPLY = [
  'code=1',
  'while IFS= read -r line <&3; do',
  '  case $line in',
  `    '1 '*) printf '%s\\n' "\${line:2}" ;;`,
  `    '2 '*) printf '%s\\n' "\${line:2}" >&2 ;;`,
  `    'x '*) code=\${line:2} ;;`,
  '  esac',
  'done',
  'exit "$code"',
];
const SEND_ENV = ['env=()', 'for v in $(compgen -e); do case $v in GG_STANDIN_*|HOME) env+=("$v=${!v}") ;; esac; done'];

function connectLines(port: number): string[] {
  return [
    `exec 3<>/dev/tcp/127.0.0.1/${port} || { echo "the installer/nucleus STAND-IN host on 127.0.0.1:${port} is not running" >&2; exit 1; }`,
  ];
}

export function javaShim(port: number): string {
  return [
    '#!/bin/bash',
    '# STAND-IN `java` for the shared installer/nucleus STAND-IN host (standin.Host, harness/standin-host.ts).',
    '# `java [JVM options] -jar JAR ARGS` runs the installer STAND-IN inside the host instead of starting a JVM:',
    '# its stdout/stderr and exit code come back over 127.0.0.1. Killing this script cancels the invocation.',
    'if [ "$1" = -version ] || [ "$1" = --version ]; then echo \'openjdk version "17" (installer STAND-IN host shim)\' >&2; exit 0; fi',
    'jvm=()',
    'while [ $# -gt 0 ] && [ "$1" != -jar ]; do jvm+=("$1"); shift; done',
    'if [ $# -lt 2 ]; then echo "STAND-IN java shim: only \'java [options] -jar FILE [args]\' is supported" >&2; exit 2; fi',
    'jar=$2; shift 2',
    '# a JVM lists JAVA_TOOL_OPTIONS first among its input arguments (launch.params)',
    'if [ -n "$JAVA_TOOL_OPTIONS" ]; then read -r -a jto <<<"$JAVA_TOOL_OPTIONS"; jvm=("${jto[@]}" "${jvm[@]}"); fi',
    ...SEND_ENV,
    ...connectLines(port),
    `printf '%s\\0' install "$PWD" \${#env[@]} "\${env[@]}" \${#jvm[@]} "\${jvm[@]}" "$jar" $# "$@" >&3`,
    ...READ_REPLY,
    '',
  ].join('\n');
}

export function hostctlShim(port: number): string {
  return [
    '#!/bin/bash',
    '# STAND-IN `systemctl` for greengrass.service in the shared installer/nucleus STAND-IN host (standin.Host):',
    '# standin-hostctl restart|stop|status ROOT. The nucleus of ROOT is a thread in the host.',
    'cmd=$1; root=$2',
    'case $cmd in restart|stop|status) ;; *) echo "usage: standin-hostctl restart|stop|status ROOT" >&2; exit 2 ;; esac',
    'if [ -z "$root" ]; then echo "usage: standin-hostctl restart|stop|status ROOT" >&2; exit 2; fi',
    'case $root in /*) ;; *) root=$PWD/$root ;; esac',
    ...SEND_ENV,
    ...connectLines(port),
    `if [ "$cmd" = restart ]; then printf '%s\\0' restart "$root" \${#env[@]} "\${env[@]}" >&3; else printf '%s\\0' "$cmd" "$root" >&3; fi`,
    ...READ_REPLY,
    '',
  ].join('\n');
}

/** One request to the host over TCP; resolves with the reply's stdout lines and exit code. */
export function hostRequest(
  port: number,
  fields: string[],
  timeoutMs = 30_000,
): Promise<{ code: number; out: string[]; err: string[] }> {
  return new Promise((resolvePromise, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = '';
    const out: string[] = [];
    const err: string[] = [];
    let code: number | undefined;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`installer STAND-IN host: no reply to ${fields[0]} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(fields.map((f) => `${f}\0`).join('')));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('1 ')) out.push(line.slice(2));
        else if (line.startsWith('2 ')) err.push(line.slice(2));
        else if (line.startsWith('x ')) code = Number(line.slice(2));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (code === undefined)
        reject(new Error(`installer STAND-IN host closed the connection without an exit code (${fields[0]})`));
      else resolvePromise({ code, out, err });
    });
  });
}

async function waitFor<T>(what: string, fn: () => T | undefined, ms: number, child: ChildProcess): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `the installer/nucleus STAND-IN host exited (${child.exitCode ?? child.signalCode}) before ${what}`,
      );
    if (Date.now() > end) throw new Error(`the installer/nucleus STAND-IN host: no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startStandinHost(
  jars: InstallerStandinJars,
  opts: StandinHostOptions = {},
): Promise<StandinHost> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'gg-standin-host-'));
  const bin = join(dir, 'jdk', 'bin');
  mkdirSync(bin, { recursive: true });
  const portFile = join(dir, 'port');
  const logPath = join(dir, 'host.log');
  const logFd = openSync(logPath, 'a');
  const env = { ...process.env };
  delete env.JAVA_TOOL_OPTIONS;
  const child = spawn(
    'java',
    [...(opts.javaOpts ?? DEFAULT_HOST_JAVA_OPTS), '-cp', jars.installerJar, 'standin.Host', '--port-file', portFile],
    {
      stdio: ['pipe', logFd, logFd], // stdin: the host exits when it closes (this process gone)
      env,
    },
  );
  closeSync(logFd);
  child.on('error', () => undefined);
  const port = await waitFor(
    'port file',
    () => {
      try {
        const p = Number(readFileSync(portFile, 'utf8').trim());
        return p > 0 ? p : undefined;
      } catch {
        return undefined;
      }
    },
    30_000,
    child,
  ).catch((e: Error) => {
    child.kill('SIGKILL');
    throw new Error(
      `${e.message}; see ${logPath}:\n${existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-2000) : ''}`,
    );
  });

  const java = join(bin, 'java');
  const hostctl = join(bin, 'standin-hostctl');
  writeFileSync(java, javaShim(port), { mode: 0o755 });
  writeFileSync(hostctl, hostctlShim(port), { mode: 0o755 });
  writeFileSync(join(dir, 'jdk', 'release'), realJavaRelease()); // the agent's preflight reads <java>/../../release

  let closed: ReturnType<StandinHost['close']> | undefined;
  return {
    pid: child.pid as number,
    port,
    dir,
    java,
    hostctl,
    logPath,
    restartCommand: (ggRoot: string) => [hostctl, 'restart', resolve(ggRoot)],
    stopNucleus: async (ggRoot: string) => {
      await hostRequest(port, ['stop', resolve(ggRoot)]);
    },
    active: async (ggRoot: string) => (await hostRequest(port, ['status', resolve(ggRoot)])).code === 0,
    stats: async () => {
      const r = await hostRequest(port, ['stats']);
      return Object.fromEntries(
        (r.out[0] ?? '')
          .split(' ')
          .filter(Boolean)
          .map((kv) => {
            const [k, v] = kv.split('=');
            return [k as string, Number(v)];
          }),
      );
    },
    close: (o = {}) =>
      (closed ??= (async () => {
        let how: { code: number | null; signal: NodeJS.Signals | null } | null = null;
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
            child.once('exit', (code, signal) => r({ code, signal })),
          );
          child.stdin?.end(); // the host halts on stdin EOF
          const t = setTimeout(() => child.kill('SIGKILL'), 5000); // only the JVM this started, by its ChildProcess
          how = await exited;
          clearTimeout(t);
        }
        if (!o.keep && !opts.dir) rmSync(dir, { recursive: true, force: true });
        return how;
      })()),
  };
}
