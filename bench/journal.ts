// npm run bench:journal — what journal-native logging costs a run. The BUILT agent provisions fresh device roots
// (the installer stand-in exits at once, as in bench:agent) under a private systemd-journald with its stderr a
// journal stream, alternately with log.format auto (one native entry per event, through `logger --journald`) and
// json (lines on the stream). Prints both medians, the entries of a run and the difference per entry. Needs root.
import { performance } from 'node:perf_hooks';
import { createDeviceRoot, preProvision, type DeviceRoot } from '../harness/device-root.ts';
import { buildInstallerStandin, stopStandinNucleus } from '../harness/standin-installer.ts';
import { EXE, ensureBuilt, tcpListener } from '../harness/agent-exe.ts';
import { startPrivateJournald, underJournalStream } from '../harness/journald.ts';
import { createCa } from '../standins/pki.ts';
import { median } from './stats.ts';

const N = Number(process.env.BENCH_N ?? 7);

async function main(): Promise<void> {
  ensureBuilt();
  const jars = await buildInstallerStandin();
  const ca = createCa();
  const endpoint = await tcpListener();
  const journald = await startPrivateJournald();
  const fresh = (name: string, format: 'auto' | 'json'): DeviceRoot => {
    const root = createDeviceRoot({ ca, hostname: name, jars, endpoint: { host: '127.0.0.1', port: endpoint.port } });
    preProvision(root, name); // the installer stand-in exits at once
    root.writeAgentConfig({ log: { level: 'info', format } });
    return root;
  };
  const ms: Record<'auto' | 'json', number[]> = { auto: [], json: [] };
  const entries: number[] = [];
  try {
    for (let i = -1; i < N; i++) {
      for (const format of ['auto', 'json'] as const) {
        const name = `gg-bench-j${format}${i + 1}`;
        const root = fresh(name, format);
        try {
          const started = performance.now();
          const r = await journald.run(
            underJournalStream('greengrass-firstboot', [EXE, 'run', '--config', root.configPath]),
            root.env,
          );
          const took = performance.now() - started;
          if (r.code !== 0) {
            const why = await journald.journalctl([`THING_NAME=${name}`, '-p', 'err', '-o', 'cat']);
            throw new Error(`${format} run exited ${r.code}: ${why || r.stderr}`);
          }
          if (i < 0) continue; // warm-up
          ms[format].push(took);
          if (format === 'auto')
            entries.push((await journald.journalctl([`THING_NAME=${name}`, '-o', 'cat'])).trim().split('\n').length);
        } finally {
          await stopStandinNucleus(root.ggRoot, 10000);
          root.cleanup();
        }
      }
    }
  } finally {
    await journald.stop();
    await endpoint.close();
  }
  const a = median(ms.auto);
  const j = median(ms.json);
  const e = median(entries);
  console.log(`journal-native run (log.format auto): median ${a.toFixed(0)} ms over ${N} runs, ${e} entries a run`);
  console.log(`JSON lines on the journal stream (log.format json): median ${j.toFixed(0)} ms`);
  console.log(`difference ${(a - j).toFixed(0)} ms a run, ${((a - j) / e).toFixed(1)} ms an entry`);
}

await main();
