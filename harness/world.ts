// Integration world for the agent tests: the installer stand-in (javac-built Greengrass.jar + its
// nucleus), the fleet-provisioning stand-in (MQTT over mTLS) and device roots wired to them.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { buildInstallerStandin, stopStandinNucleus, type InstallerStandinJars } from './standin-installer.ts';
import { startProvisioningStandin, type ProvisioningStandin } from '../standins/provisioning/server.ts';
import { createCa, type KeyPair } from '../standins/pki.ts';
import { createDeviceRoot, type DeviceRoot, type DeviceRootOptions } from './device-root.ts';

export const TEMPLATE_NAME = 'GreengrassFleetProvisioningTemplate';

export interface World {
  jars: InstallerStandinJars;
  ca: KeyPair;
  prov: ProvisioningStandin;
  stop(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const jars = await buildInstallerStandin();
  const ca = createCa();
  const prov = await startProvisioningStandin({ ca, templateName: TEMPLATE_NAME });
  return { jars, ca, prov, stop: () => prov.stop() };
}

/**
 * "systemctl restart greengrass.service" for the stand-in: stop the nucleus (its loader execs java, so the pid is the JVM) named in
 * alts/loader.pid, then start the unit's ExecStart (the stand-in loader) detached, as systemd would.
 */
export function standinRestartCommand(ggRoot: string): string[] {
  const script = [
    'root="$0"',
    'pid=$(cat "$root/alts/loader.pid" 2>/dev/null || true)',
    'if [ -n "$pid" ] && grep -q standin.Nucleus "/proc/$pid/cmdline" 2>/dev/null; then',
    '  kill -TERM "$pid" 2>/dev/null || true',
    '  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
    'fi',
    'setsid /bin/sh -c \'exec "$0" >> "$1" 2>&1\' "$root/alts/current/distro/bin/loader" "$root/logs/loader.log" </dev/null >/dev/null 2>&1 &',
  ].join('\n');
  return ['/bin/sh', '-c', script, ggRoot];
}

export function worldRoot(world: World, opts: DeviceRootOptions = {}): DeviceRoot {
  const root = createDeviceRoot({
    ca: world.ca,
    endpoint: { host: '127.0.0.1', port: world.prov.port },
    jars: world.jars,
    ...opts,
  });
  root.writeAgentConfig({ service: { restartCommand: standinRestartCommand(root.ggRoot) }, ...opts.agent });
  return root;
}

/** Is `pid` still running (not gone, not a zombie)? */
function running(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Pids of processes whose command line mentions `dir` (the stand-in installer / nucleus of that root). */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(dir) && !cmd.includes('greengrass-firstboot\0') && running(Number(e))) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * Power loss for one device root: SIGKILL every process working on it, and return once they are gone. A killed
 * process takes a while to exit on a loaded host (a JVM frees hundreds of MB), and until then it still shows up.
 */
export function powerLoss(root: DeviceRoot, agentPid?: number): void {
  const pids = processesUnder(root.dir);
  if (agentPid) pids.push(agentPid);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + 10_000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (pids.some(running) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 5);
}

/** What systemd does at the next boot: start greengrass.service if it is enabled. */
export function boot(root: DeviceRoot): void {
  if (existsSync(root.enabledLink)) {
    const [cmd, ...args] = standinRestartCommand(root.ggRoot) as [string, ...string[]];
    execFileSync(cmd, args, { stdio: 'ignore' });
  }
}

export async function stopDevice(root: DeviceRoot): Promise<void> {
  await stopStandinNucleus(root.ggRoot, 3000);
  powerLoss(root);
}

/** Every system.thingName value ever recorded in the tlog, in order. */
export function recordedNames(root: DeviceRoot): string[] {
  if (!existsSync(root.tlogPath)) return [];
  return readFileSync(root.tlogPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        const r = JSON.parse(l);
        return Array.isArray(r.TP) && r.TP.join('.') === 'system.thingName' ? [String(r.V)] : [];
      } catch {
        return [];
      }
    });
}

export { stopStandinNucleus };
