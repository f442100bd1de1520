// The installer/nucleus STAND-IN in its shared-JVM host mode (standin.Host + the java / standin-hostctl shims,
// harness/standin-host.ts), as bench:fleet uses it: an install through the shim writes what the process mode
// writes, devices in one host keep their own root, ThingName and environment, restart/stop/status act on one root
// only, and the BUILT agent provisions through it (restart path included).
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { buildInstallerStandin, nucleusPid, type InstallerStandinJars } from '../../harness/standin-installer.ts';
import { startStandinHost, type StandinHost } from '../../harness/standin-host.ts';
import { createCa, issueCertificate } from '../../standins/pki.ts';
import { startProvisioningStandin, type ProvisioningStandin } from '../../standins/provisioning/server.ts';
import {
  installerArgs as sharedInstallerArgs,
  makeInstallerDevice,
  type InstallerDevice,
} from '../../harness/installer-device.ts';
import { createDeviceRoot } from '../../harness/device-root.ts';
import { ensureBuilt, runAgent } from '../../harness/agent-exe.ts';
import { waitFor } from '../helpers/wait.ts';

const TEMPLATE = 'GoldenFleetTemplate';
const ca = createCa();
const claim = issueCertificate(ca, { commonName: 'fleet claim' });
let jars: InstallerStandinJars;
let host: StandinHost;
let prov: ProvisioningStandin;

t.before(async () => {
  jars = await buildInstallerStandin();
  host = await startStandinHost(jars);
  prov = await startProvisioningStandin({ ca, templateName: TEMPLATE });
});
t.teardown(async () => {
  await host?.close();
  await prov?.stop();
});

type Device = InstallerDevice;

function makeDevice(t: { teardown(fn: () => unknown): void }, thingName: string): Device {
  return makeInstallerDevice(t, {
    ca,
    claim,
    port: prov.port,
    thingName,
    template: TEMPLATE,
    beforeCleanup: (root) => host.stopNucleus(root),
  });
}

function installerArgs(d: Device, extra: string[] = []): string[] {
  return sharedInstallerArgs(jars, d, extra);
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const e: Record<string, string | undefined> = { ...process.env, ...env };
    delete e.JAVA_TOOL_OPTIONS;
    execFile(cmd, args, { env: e, timeout: 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (err as unknown as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The installer through the host's java shim (host mode) or the real java (process mode). */
function install(
  mode: 'host' | 'process',
  d: Device,
  env: Record<string, string> = {},
  extra: string[] = [],
): Promise<RunResult> {
  return run(mode === 'host' ? host.java : 'java', installerArgs(d, extra), {
    GG_STANDIN_SYSTEMD_DIR: d.systemd,
    ...env,
  });
}

const hostctl = (cmd: string, root: string, env: Record<string, string> = {}) => run(host.hostctl, [cmd, root], env);

const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
const log = (d: Device) => read(join(d.root, 'logs', 'greengrass.log'));

function tlogValue(d: Device, ...path: string[]): unknown {
  let v: unknown;
  for (const l of read(join(d.root, 'config', 'config.tlog'))
    .split('\n')
    .filter(Boolean)) {
    const e = JSON.parse(l) as { TP: string[]; V: unknown };
    if (e.TP.join('/') === path.join('/')) v = e.V;
  }
  return v;
}
/** The topic paths config.tlog has values for (what was recorded, not when). */
function tlogPaths(d: Device): string[] {
  return [
    ...new Set(
      read(join(d.root, 'config', 'config.tlog'))
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { TP: string[] }).TP.join('/')),
    ),
  ].sort();
}

/** Every file, link and directory under dir, relative, with its kind. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const full = join(p, e.name);
      const rel = relative(dir, full);
      if (e.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(full).replace(dir, '<dir>')}`);
      else if (e.isDirectory()) {
        out.push(`${rel}/`);
        walk(full);
      } else out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

/** Log messages without timestamps, thread names' pids or per-run ids. */
function messages(text: string): string[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\S+ \[(\w+)\] \(\S+\) /, '[$1] ').replace(/\{.*\}$/, '{...}'));
}

t.test(
  'an install through the java shim writes what the process mode writes, and its nucleus thread provisions',
  async (t) => {
    const p = makeDevice(t, 'same-process');
    const h = makeDevice(t, 'same-host');
    const [rp, rh] = await Promise.all([install('process', p), install('host', h)]);
    t.equal(rh.code, 0, rh.stderr);
    t.equal(rp.code, 0, rp.stderr);
    t.equal(rh.stdout.replaceAll(h.root, '<root>'), rp.stdout.replaceAll(p.root, '<root>'), 'same installer output');
    await waitFor('both provisioned', () => tlogValue(p, 'system', 'thingName') && tlogValue(h, 'system', 'thingName'));
    t.equal(tlogValue(h, 'system', 'thingName'), 'same-host');
    t.equal(tlogValue(h, 'system', 'rootpath'), h.root);
    t.same(tlogPaths(h), tlogPaths(p), 'config.tlog records the same settings');

    // the same files: layout, plugin, distro, links, unit + link, device cert/key, logs. Only process mode names a pid
    // in alts/loader.pid; in host mode no pid is the nucleus's own (the host JVM runs every device), so none is written.
    const ph = tree(p.dir).filter((f) => f !== 'greengrass/v2/alts/loader.pid');
    t.ok(tree(p.dir).includes('greengrass/v2/alts/loader.pid'), 'process mode: loader.pid');
    t.notOk(existsSync(join(h.root, 'alts', 'loader.pid')), 'host mode: no loader.pid');
    t.same(tree(h.dir), ph, 'same files, links and directories');
    t.equal(
      read(join(h.systemd, 'greengrass.service')).replaceAll(h.root, '<root>'),
      read(join(p.systemd, 'greengrass.service')).replaceAll(p.root, '<root>'),
      'same unit file',
    );
    t.equal(
      read(join(h.root, 'alts', 'current', 'distro', 'bin', 'loader')).replaceAll(h.root, '<root>'),
      read(join(p.root, 'alts', 'current', 'distro', 'bin', 'loader')).replaceAll(p.root, '<root>'),
      'same loader script',
    );
    t.equal(
      read(join(h.root, 'alts', 'current', 'launch.params')),
      '-Dlog.store=FILE',
      "launch.params: the invocation's JVM options minus -Droot",
    );
    for (const f of ['thingCert.crt', 'privKey.key'])
      t.equal(statSync(join(h.root, f)).mode & 0o777, 0o600, `${f} is 0600`);
    const cert = new X509Certificate(readFileSync(join(h.root, 'thingCert.crt')));
    t.ok(
      cert.checkPrivateKey(createPrivateKey(readFileSync(join(h.root, 'privKey.key')))),
      'device key matches device cert',
    );
    t.equal(
      prov.registrations.find((r) => r.thingName === 'same-host')?.certificateId,
      cert.fingerprint256.replace(/:/g, '').toLowerCase(),
      'the registered cert is the one on disk',
    );
    // Complete once the nucleus has reported (or failed to report) its fleet status after provisioning.
    const done = (l: string) => /Received register thing response/.test(l) && /the fleet status \(STAND-IN\)/.test(l);
    await waitFor('greengrass.log complete', () => done(log(h)) && done(log(p)));
    t.same(
      messages(log(h).replaceAll('same-host', '<name>')),
      messages(log(p).replaceAll('same-process', '<name>')),
      'the nucleus logs the same lines',
    );
    t.equal(
      read(join(h.root, 'logs', 'loader.log')),
      'Launched Nucleus successfully.\n',
      'loader.log: the nucleus stdout',
    );
    t.ok(await host.active(h.root), 'its nucleus runs on in the host');
    t.equal(nucleusPid(h.root), undefined, 'no process of its own');
  },
);

t.test('two devices in one host keep their own root, ThingName and environment', async (t) => {
  const a = makeDevice(t, 'iso-a');
  const b = makeDevice(t, 'iso-b');
  // concurrent installs; only b gets the injected provisioning failure: an environment that leaked would fail a too
  const [ra, rb] = await Promise.all([install('host', a), install('host', b, { GG_STANDIN_FAIL: 'provision' })]);
  t.equal(ra.code, 0, ra.stderr);
  t.equal(rb.code, 0, rb.stderr);
  t.match(ra.stdout, `in ${a.root}\n`);
  t.match(rb.stdout, `in ${b.root}\n`);
  await waitFor('a provisioned', () => tlogValue(a, 'system', 'thingName'));
  await waitFor('b failure line', () => /Caught exception while running provisioning plugin/.test(log(b)));
  t.equal(tlogValue(a, 'system', 'thingName'), 'iso-a');
  t.equal(tlogValue(b, 'system', 'thingName'), undefined, 'b not provisioned');
  t.equal(tlogValue(a, 'system', 'rootpath'), a.root);
  t.equal(tlogValue(b, 'system', 'rootpath'), b.root);
  t.notMatch(log(a), /Caught exception/, "a did not see b's failure injection");
  t.notMatch(log(a), new RegExp(b.root), "a's log names only a");
  t.notMatch(log(b), new RegExp(a.root), "b's log names only b");
  t.equal(read(join(b.root, '.standin-env')), 'GG_STANDIN_FAIL=provision\n');
  t.notOk(existsSync(join(a.root, '.standin-env')));
  t.ok(existsSync(join(a.root, 'thingCert.crt')));
  t.equal(prov.registrations.filter((r) => r.thingName === 'iso-b').length, 0, 'no registration for b');
  // stopping b leaves a running
  t.equal((await hostctl('stop', b.root)).code, 0);
  t.equal((await hostctl('status', b.root)).code, 3, 'b inactive');
  t.equal((await hostctl('status', a.root)).code, 0, 'a still active');
});

t.test('standin-hostctl restart / stop / status act like systemctl on that root', async (t) => {
  const d = makeDevice(t, 'ctl-0001');
  // the first nucleus start fails to provision, the restart provisions (the agent's restart path)
  const r = await install('host', d, { GG_STANDIN_FAIL_UNTIL_PROVISION: '2' });
  t.equal(r.code, 0, r.stderr);
  await waitFor('failure line', () => /Caught exception while running provisioning plugin/.test(log(d)));
  const st = await hostctl('status', d.root);
  t.equal(st.code, 0);
  t.equal(st.stdout, 'active\n');
  t.equal((await hostctl('restart', d.root)).code, 0);
  await waitFor('provisioned after restart', () => tlogValue(d, 'system', 'thingName'));
  t.equal(tlogValue(d, 'system', 'thingName'), 'ctl-0001');
  t.equal((log(d).match(/Shutting down Nucleus/g) ?? []).length, 1, 'the old nucleus was shut down once');
  t.match(
    log(d),
    /\[INFO\] \(shutdown\) com\.aws\.greengrass\.lifecyclemanager\.Kernel: Shutting down Nucleus/,
    'logged as the shutdown hook logs it',
  );
  t.equal((log(d).match(/Launching Nucleus/g) ?? []).length, 2, 'and a new one launched');
  t.equal((await hostctl('stop', d.root)).code, 0);
  const st2 = await hostctl('status', d.root);
  t.equal(st2.code, 3, 'inactive after stop (systemctl is-active exit 3)');
  t.equal(st2.stdout, 'inactive\n');
  t.equal((log(d).match(/Shutting down Nucleus/g) ?? []).length, 2);
  t.ok(existsSync(join(d.root, 'config', 'effectiveConfig.yaml')));
  t.match(
    read(join(d.root, 'config', 'effectiveConfig.yaml')),
    /thingName: "?ctl-0001"?/,
    'effective config written at shutdown',
  );
  // a restart of a provisioned device: no second registration
  const before = prov.registrations.length;
  t.equal((await hostctl('restart', d.root)).code, 0);
  await waitFor('skip line', () => /not running the provisioning plugin/.test(log(d)));
  t.equal(prov.registrations.length, before, 'no second registration');
  t.equal((await hostctl('bogus', d.root)).code, 2, 'unknown command: usage, exit 2');
});

t.test(
  'errors through the shim: the real installer messages and exit codes; a killed shim cancels its invocation',
  async (t) => {
    const d = makeDevice(t, 'err-0001');
    const bad = await install('host', d, {}, ['--no-such-flag']);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /^Error while trying to setup Greengrass Nucleus\n/);
    t.match(bad.stderr, /Undefined command line argument: --no-such-flag/);
    t.notOk(existsSync(join(d.root, 'config')), 'nothing written');
    const nojar = await run(host.java, ['-jar', join(d.dir, 'missing.jar')]);
    t.equal(nojar.code, 1);
    t.match(nojar.stderr, /Unable to access jarfile/);
    const ver = await run(host.java, ['-version']);
    t.equal(ver.code, 0);
    t.match(ver.stderr, /version "17"/);
    t.match(read(join(host.dir, 'jdk', 'release')), /^JAVA_VERSION="\d+/m, "release file for the agent's preflight");
    t.equal(
      (await install('host', d, { GG_STANDIN_FAIL: 'install' })).code,
      1,
      'GG_STANDIN_FAIL=install reaches the host through the shim',
    );

    // GG_STANDIN_FAIL=hang: the installer never exits; killing the shim (as the agent's timeout does) frees the host thread
    const child = spawn(host.java, installerArgs(d), {
      env: { ...process.env, GG_STANDIN_SYSTEMD_DIR: d.systemd, GG_STANDIN_FAIL: 'hang' },
      stdio: 'ignore',
    });
    let running = 0;
    for (let i = 0; i < 100 && running === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      running = (await host.stats()).installsRunning as number;
    }
    t.equal(running, 1, 'the hanging invocation runs in the host');
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    for (let i = 0; i < 100 && running > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      running = (await host.stats()).installsRunning as number;
    }
    t.equal(running, 0, 'killing the shim cancelled it');
  },
);

t.test(
  'the BUILT agent provisions through the host: java shim as installer.java, standin-hostctl as the restart command',
  async (t) => {
    ensureBuilt();
    const root = createDeviceRoot({
      ca,
      claim,
      endpoint: { host: '127.0.0.1', port: prov.port },
      jars,
      hostname: 'agent-host-0001',
      settings: { provisioningTemplate: TEMPLATE },
    });
    t.teardown(async () => {
      await host.stopNucleus(root.ggRoot).catch(() => undefined);
      root.cleanup();
    });
    root.writeAgentConfig({
      installer: { java: host.java },
      service: { restartCommand: host.restartCommand(root.ggRoot) },
    });
    const r = await runAgent(root, ['run'], { GG_STANDIN_FAIL_UNTIL_PROVISION: '2' });
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'provisioned as agent-host-0001\n');
    t.match(
      r.stderr,
      /Restarting greengrass\.service/,
      'the first start failed to provision and the agent restarted the service',
    );
    t.equal(prov.registrations.filter((x) => x.thingName === 'agent-host-0001').length, 1);
    t.ok(await host.active(root.ggRoot), 'the nucleus runs on');
    t.equal(lstatSync(root.enabledLink).isSymbolicLink(), true, 'greengrass.service enabled');
  },
);

t.test('the host JVM exits when the process that started it goes away (its stdin closes)', async (t) => {
  const h = await startStandinHost(jars);
  const pid = h.pid;
  t.doesNotThrow(() => process.kill(pid, 0), 'running');
  t.same(await h.close(), { code: 0, signal: null }, 'it halted by itself at stdin EOF (not the 5 s SIGKILL fallback)');
  t.throws(() => process.kill(pid, 0), 'gone');
  t.notOk(existsSync(h.dir), 'its shims are removed');
});
