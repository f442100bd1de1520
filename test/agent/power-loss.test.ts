// kill -9 (power loss: the agent, the installer and the nucleus all die) at each step of the BUILT
// agent's run, then a boot (greengrass.service starts if enabled) and a new run: it converges to one
// identity, exactly once.
import t, { type Test } from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import type { DeviceRoot } from '../helpers/device-root.ts';
import { ensureBuilt, runAgent, startAgent } from './exe.ts';
import { boot, powerLoss, processesUnder, recordedNames, startWorld, stopDevice, worldRoot } from './world.ts';

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

async function killAt(t: Test, name: string, target: (root: DeviceRoot) => boolean, describe: string): Promise<void> {
  const root = worldRoot(world, { hostname: name, agent: { verify: { timeoutSeconds: 20 } } });
  t.teardown(async () => {
    await stopDevice(root);
    root.cleanup();
  });
  const { child, done } = startAgent(root, ['run']);
  let exited = false;
  void done.then(() => (exited = true));
  const deadline = Date.now() + 30_000;
  while (!exited && !target(root) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.notOk(exited, `agent still running when the power went (${describe})`);
  const at = phase(root);
  powerLoss(root, child.pid);
  const killed = await done;
  t.equal(killed.signal, 'SIGKILL', `killed in phase ${at}`);
  t.notOk(existsSync(root.sentinel), 'no sentinel yet');

  boot(root);
  const r = await runAgent(root, ['run']);
  if (r.code !== 0) t.comment(r.stderr.slice(-2000));
  t.equal(r.code, 0, `converged after the power loss in phase ${at}`);
  t.equal(JSON.parse(readFileSync(root.sentinel, 'utf8')).thingName, name);
  t.same([...new Set(recordedNames(root))], [name], 'one identity recorded');
  t.notOk(existsSync(root.claimKeyPath), 'claim key removed');
  const again = await runAgent(root, ['run']);
  t.equal(again.stdout, `already provisioned as ${name}\n`);
  await stopDevice(root);
  t.same(processesUnder(root.dir), [], 'nothing left running');
}

t.test('power loss while the installer runs', (t) => killAt(t, 'gg-pl-install', (root) => phase(root) === 'install' && processesUnder(root.dir).length > 0, 'installer running'));

t.test('power loss while the nucleus provisions (after the installer)', (t) =>
  killAt(t, 'gg-pl-verify', (root) => phase(root) === 'verify', 'verifying'));

t.test('power loss right after the device certificate is written, before the thing is recorded', (t) =>
  killAt(t, 'gg-pl-cert', (root) => existsSync(`${root.ggRoot}/thingCert.crt`) || recordedNames(root).length > 0, 'device cert on disk'));

t.test('power loss right after the rendered config is written', (t) =>
  killAt(t, 'gg-pl-render', (root) => existsSync(root.renderedConfig), 'rendered config written'));
