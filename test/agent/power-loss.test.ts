// kill -9 (power loss: the agent, the installer and the nucleus all die) at each step of the BUILT
// agent's run, then a boot (greengrass.service starts if enabled) and a new run: it converges to one
// identity, exactly once — one RegisterThing at the provisioning stand-in, and the device holds its certificate.
import t, { type Test } from 'tap';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { DeepPartial, DeviceRoot } from '../../harness/device-root.ts';
import type { AgentConfig } from '../../agent/src/agent-config.ts';
import { closedPort, ensureBuilt, runAgent, startAgent } from '../../harness/agent-exe.ts';
import {
  boot,
  powerLoss,
  processesUnder,
  recordedNames,
  startWorld,
  stopDevice,
  worldRoot,
} from '../../harness/world.ts';

ensureBuilt();
const world = await startWorld();
t.teardown(() => world.stop());

function phase(root: DeviceRoot): string | null {
  try {
    return JSON.parse(readFileSync(root.stateFile, 'utf8')).phase;
  } catch {
    return null;
  }
}

interface KillOptions {
  /** The IoT data endpoint the device's config names (default: the provisioning stand-in). */
  endpoint?: { host: string; port: number };
  agent?: DeepPartial<AgentConfig>;
  /** Before the first run, with the device's paths known. */
  prepare?: (root: DeviceRoot) => void;
  /** Checks on the device as the power went (nothing has been killed yet). */
  atKill?: (t: Test, root: DeviceRoot) => void;
  /** Between the power loss and the next boot (e.g. the network comes up). */
  beforeBoot?: (t: Test, root: DeviceRoot) => void | Promise<void>;
}

async function killAt(
  t: Test,
  name: string,
  target: (root: DeviceRoot, stderr: string) => boolean,
  describe: string,
  o: KillOptions = {},
): Promise<void> {
  const since = new Date().toISOString();
  // Every RegisterThing the provisioning stand-in accepted for this device during this test; and every one that
  // attached a second certificate to a Thing that already held an active one (a second identity, as AWS allows it).
  const registrations = () => world.prov.registrations.filter((r) => r.thingName === name && r.at >= since);
  const takeovers = () => world.prov.takeovers.filter((r) => r.thingName === name && r.at >= since);
  const root = worldRoot(world, {
    hostname: name,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    agent: { verify: { timeoutSeconds: 20 }, ...o.agent },
  });
  t.teardown(async () => {
    await stopDevice(root);
    root.cleanup();
  });
  o.prepare?.(root);
  const { child, done } = startAgent(root, ['run']);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  void done.then(() => (exited = true));
  const deadline = Date.now() + 30_000;
  while (!exited && !target(root, stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.notOk(exited, `agent still running when the power went (${describe})`);
  const at = phase(root);
  o.atKill?.(t, root);
  const namesAtKill = recordedNames(root).length;
  const registeredAtKill = registrations().length;
  powerLoss(root, child.pid);
  const killed = await done;
  t.equal(killed.signal, 'SIGKILL', `killed in phase ${at ?? '(no state yet)'}`);
  t.notOk(existsSync(root.sentinel), 'no sentinel yet');
  t.ok(registeredAtKill <= 1, `at most one registration before the power loss (${registeredAtKill})`);

  await o.beforeBoot?.(t, root);
  boot(root);
  const r = await runAgent(root, ['run']);
  if (r.code !== 0) t.comment(r.stderr.slice(-2000));
  t.equal(r.code, 0, `converged after the power loss in phase ${at ?? '(no state yet)'}`);
  // Read leniently: if the run did not converge, the identity checks below still say why.
  const sentinel = existsSync(root.sentinel) ? JSON.parse(readFileSync(root.sentinel, 'utf8')) : null;
  t.equal(sentinel?.thingName, name, 'the sentinel names the device');
  t.same(recordedNames(root), [name], 'one identity recorded, once');

  const regs = registrations();
  t.equal(
    regs.length,
    1,
    `exactly one registration for ${name} (${regs.map((x) => x.certificateId.slice(0, 12)).join(', ')})`,
  );
  t.same(takeovers(), [], 'no second identity was attempted (no second certificate attached to the Thing)');
  if (namesAtKill > 0)
    t.equal(
      regs.length,
      registeredAtKill,
      'the identity existed before the power loss: the re-run registered nothing new',
    );
  t.equal(regs[0]?.thingName, sentinel?.thingName, 'the sentinel names the registered Thing');
  const certPath = join(root.ggRoot, 'thingCert.crt');
  const deviceCert = existsSync(certPath)
    ? new X509Certificate(readFileSync(certPath, 'utf8')).fingerprint256.replace(/:/g, '').toLowerCase()
    : null;
  t.equal(deviceCert, regs[0]?.certificateId, "the device holds the registered Thing's certificate");

  t.notOk(existsSync(root.claimKeyPath), 'claim key removed');
  t.notOk(existsSync(root.claimCertPath), 'claim certificate removed');
  const again = await runAgent(root, ['run']);
  t.equal(again.stdout, `already provisioned as ${name}\n`);
  t.equal(registrations().length, 1, 'still one registration after another run');
  await stopDevice(root);
  t.same(processesUnder(root.dir), [], 'nothing left running');
}

t.test('power loss while the installer runs', (t) =>
  killAt(
    t,
    'gg-pl-install',
    (root) => phase(root) === 'install' && processesUnder(root.dir).length > 0,
    'installer running',
  ),
);

t.test('power loss while the nucleus provisions (after the installer)', (t) =>
  killAt(t, 'gg-pl-verify', (root) => phase(root) === 'verify', 'verifying'),
);

t.test('power loss right after the device certificate is written, before the thing is registered or recorded', (t) => {
  // The provisioning stand-in leaves this device's RegisterThing unanswered, so the power goes exactly in that window:
  // CreateKeysAndCertificate done (its cert and key on disk), no Thing registered, nothing recorded by the nucleus.
  const name = 'gg-pl-cert';
  return killAt(
    t,
    name,
    (root) => existsSync(`${root.ggRoot}/thingCert.crt`) && world.prov.held.includes(name),
    'device cert on disk, RegisterThing unanswered',
    {
      prepare: () => {
        world.prov.holdRegisterThing = (p) => p.ThingName === name;
      },
      atKill: (t, root) => {
        t.ok(existsSync(`${root.ggRoot}/privKey.key`), 'the device key is on disk too');
        t.same(recordedNames(root), [], 'no ThingName recorded by the nucleus');
        t.same(
          world.prov.registrations.filter((r) => r.thingName === name),
          [],
          'no Thing registered',
        );
      },
      beforeBoot: () => {
        world.prov.holdRegisterThing = null;
      },
    },
  );
});

t.test('power loss right after the rendered config is written', (t) =>
  killAt(t, 'gg-pl-render', (root) => existsSync(root.renderedConfig), 'rendered config written'),
);

t.test(
  'power loss during the preflight endpoint wait (network not up yet); the next boot has the network',
  async (t) => {
    // Nothing listens on the endpoint's port at the first boot: the agent sits in its bounded endpoint wait. At the
    // next boot the port forwards to the provisioning stand-in (the network is up).
    const port = await closedPort();
    const sockets = new Set<Socket>();
    const network = createServer((inbound) => {
      const outbound = connect(world.prov.port, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => (network.listening ? network.close(() => r()) : r()));
    });
    await killAt(
      t,
      'gg-pl-preflight',
      (_root, stderr) => stderr.includes('"reason":"endpoint-unreachable"'),
      'waiting for the endpoint',
      {
        endpoint: { host: '127.0.0.1', port },
        agent: { preflight: { networkWaitSeconds: 120, connectTimeoutMs: 500 } },
        atKill: (t, root) => {
          t.notOk(existsSync(root.renderedConfig), 'nothing rendered during the wait');
          t.same(processesUnder(root.dir), [], 'the installer was not started during the wait');
        },
        beforeBoot: () => new Promise<void>((r) => network.listen(port, '127.0.0.1', () => r())),
      },
    );
  },
);

/**
 * greengrass.service's "is enabled?" check as a command (service.isEnabledCommand, like `systemctl is-enabled`) that,
 * the first time it is asked while state.json says phase "finish", hangs (so the power can go right there, in finish()
 * after the device credentials were checked, before the claim is removed and the sentinel written); otherwise it answers
 * from the enable link.
 */
function hangOnceInFinish(root: DeviceRoot): { marker: string; command: string[] } {
  const marker = join(root.dir, 'finish-reached');
  const script = [
    'if [ ! -e "$3" ] && grep -q \'"phase": "finish"\' "$1" 2>/dev/null; then : > "$3"; exec tail -f "$3"; fi',
    '[ -e "$2" ] || [ -L "$2" ]',
  ].join('\n');
  return { marker, command: ['/bin/sh', '-c', script, 'is-enabled', root.stateFile, root.enabledLink, marker] };
}

for (const claimGone of [false, true]) {
  const title = claimGone
    ? 'power loss in the finish phase after the claim cert and key were removed, before the sentinel (the disk as finish() leaves it there)'
    : 'power loss in the finish phase (identity recorded, claim still present), before the sentinel';
  t.test(title, async (t) => {
    const name = claimGone ? 'gg-pl-finish-noclaim' : 'gg-pl-finish';
    let marker = '';
    await killAt(t, name, () => existsSync(marker), 'finishing', {
      prepare: (root) => {
        const hook = hangOnceInFinish(root);
        marker = hook.marker;
        root.writeAgentConfig({ service: { isEnabledCommand: hook.command } });
      },
      atKill: (t, root) => {
        t.equal(phase(root), 'finish', 'state says finish');
        t.same(recordedNames(root), [name], 'the nucleus recorded the identity before the power went');
        t.ok(
          existsSync(root.claimKeyPath) && existsSync(root.claimCertPath),
          'the claim cert and key were still there when the power went',
        );
      },
      beforeBoot: (_t, root) => {
        if (!claimGone) return;
        // A power loss one step later, between finish()'s removal of the claim files and the sentinel: no hook can
        // hold the agent there, so the disk is brought to that state (phase finish, identity recorded, claim gone).
        rmSync(root.claimCertPath);
        rmSync(root.claimKeyPath);
      },
    });
  });
}
