// CPU of the BUILT agent while it waits in verify (the nucleus is up but provisioning has not finished):
// M device roots with the installer stand-in whose nucleus connects to an endpoint that accepts TCP and never
// answers (GG_STANDIN_MQTT_TIMEOUT_SECONDS=600: it hangs quietly), so each agent sits in waitForProvisioning.
// Once every agent is in phase verify, their utime+stime (/proc/<pid>/stat) is sampled over --seconds.
//   tsx bench/verify-wait.ts [--exe dist/greengrass-firstboot] [--m 5] [--seconds 20] [--poll-ms 1000] [--settle-sec 10]
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { createDeviceRoot, type DeviceRoot } from '../harness/device-root.ts';
import { buildInstallerStandin, stopStandinNucleus } from '../harness/standin-installer.ts';
import { EXE, SYSTEM_PATH, ensureBuilt } from '../harness/agent-exe.ts';
import { standinRestartCommand } from '../harness/world.ts';

const { values: opt } = parseArgs({
  options: {
    exe: { type: 'string', default: EXE },
    m: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '20' },
    'poll-ms': { type: 'string', default: '1000' },
    'settle-sec': { type: 'string', default: '10' },
  },
  strict: true,
});
const M = Number(opt.m);
const SECONDS = Number(opt.seconds);
const POLL = Number(opt['poll-ms']);

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ').map(Number);
  return (f[11]! + f[12]!) / 100;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (opt.exe === EXE) ensureBuilt();
const jars = await buildInstallerStandin();
const held: Socket[] = [];
const blackHole = createServer((s) => void held.push(s));
await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
const port = (blackHole.address() as { port: number }).port;

const roots: DeviceRoot[] = [];
const agents: ChildProcess[] = [];
try {
  for (let i = 0; i < M; i++) {
    const root = createDeviceRoot({ jars, hostname: `gg-wait-${i + 1}`, endpoint: { host: '127.0.0.1', port } });
    root.writeAgentConfig({
      verify: { timeoutSeconds: SECONDS + 120, pollMs: POLL, retrySeconds: 0 },
      service: { restartCommand: standinRestartCommand(root.ggRoot) },
      log: { level: 'info' },
    });
    roots.push(root);
    agents.push(
      spawn(opt.exe as string, ['run', '--config', root.configPath], {
        env: { PATH: SYSTEM_PATH, HOME: root.dir, ...root.env, GG_STANDIN_MQTT_TIMEOUT_SECONDS: '600' },
        stdio: 'ignore',
      }),
    );
  }
  const phase = (r: DeviceRoot) => {
    try {
      return (JSON.parse(readFileSync(r.stateFile, 'utf8')) as { phase?: string }).phase;
    } catch {
      return undefined;
    }
  };
  const end = Date.now() + 120_000;
  while (roots.some((r) => phase(r) !== 'verify') && Date.now() < end) await sleep(200);
  if (roots.some((r) => phase(r) !== 'verify')) throw new Error('not every agent reached phase verify within 120 s');
  await sleep(Number(opt['settle-sec']) * 1000); // past the agent's and the nucleus's start-up
  const c0 = agents.map((a) => cpuSeconds(a.pid!));
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const wall = (performance.now() - t0) / 1000;
  const per = agents.map((a, i) => (cpuSeconds(a.pid!) - c0[i]!) / wall);
  const mean = per.reduce((s, x) => s + x, 0) / per.length;
  process.stdout.write(
    `verify wait: ${M} agents (${opt.exe}), pollMs ${POLL}, ${wall.toFixed(1)} s: CPU ${(mean * 1000).toFixed(2)} ms per s per agent (each: ${per.map((x) => (x * 1000).toFixed(2)).join(' ')}); ` +
      `x1000 agents = ${(mean * 1000).toFixed(2)} cores\n`,
  );
} finally {
  for (const a of agents) a.kill('SIGTERM');
  await sleep(500);
  await Promise.all(roots.map((r) => stopStandinNucleus(r.ggRoot, 3000)));
  for (const r of roots) r.cleanup();
  for (const s of held) s.destroy();
  blackHole.close();
}
