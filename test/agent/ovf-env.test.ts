// The OVF environment as a ThingName source, through the BUILT agent: the vApp property `thing-name` on VMware's
// guestinfo transport (a vmware-rpctool stand-in) and on the ISO transport (an ovf-env.xml ISO made with
// genisoimage, in a CD-ROM drive of the device root), its precedence over the configured source, the fallback when
// there is none, and the refusals: malformed XML, and names the ThingName rules refuse.
import t, { type Test } from 'tap';
import { chmodSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createDeviceRoot, type DeviceRoot, type DeviceRootOptions } from '../../harness/device-root.ts';
import { EXE, closedPort, ensureBuilt, logLines, runAgent, tcpListener } from '../../harness/agent-exe.ts';
import {
  insertCdrom,
  makeOvfEnvIso,
  ovfEnvIsoForThingName,
  ovfEnvironmentXml,
  setGuestinfoOvfEnv,
} from '../../harness/ovf-env.ts';

ensureBuilt();
const endpoint = await tcpListener();
t.teardown(() => endpoint.close());

interface Step {
  ok: boolean;
  detail: string;
  reason?: string;
}

function deviceRoot(t: Test, opts: DeviceRootOptions = {}): DeviceRoot {
  const root = createDeviceRoot({ endpoint: { host: '127.0.0.1', port: endpoint.port }, ...opts });
  t.teardown(() => root.cleanup());
  return root;
}

async function check(root: DeviceRoot): Promise<{ code: number | null; name: string | null; step: Step }> {
  const r = await runAgent(root, ['check', '--json']);
  const out = JSON.parse(r.stdout);
  return { code: r.code, name: out.thingName, step: out.steps.find((s: { step: string }) => s.step === 'thing-name') };
}

/** An ISO transport CD in the root's drive `drive`, holding `xml` (or the environment naming `thingName`). */
function cdrom(root: DeviceRoot, content: { xml: string } | { thingName: string }, drive = 'sr0'): void {
  const iso = join(root.dir, `${drive}.iso`);
  if ('xml' in content) makeOvfEnvIso(iso, content.xml);
  else ovfEnvIsoForThingName(iso, content.thingName);
  insertCdrom(root, iso, drive);
}

t.test('a thing-name on the guestinfo transport names the core, whatever the hostname', async (t) => {
  const root = deviceRoot(t, { hostname: 'localhost' });
  setGuestinfoOvfEnv(root, ovfEnvironmentXml({ 'thing-name': 'store-0815-edge', other: 'x' }));
  const r = await check(root);
  t.equal(r.code, 0, r.step.detail);
  t.equal(r.name, 'store-0815-edge');
  t.equal(r.step.detail, 'store-0815-edge (OVF environment property thing-name (guestinfo.ovfEnv))');
});

t.test('a thing-name in ovf-env.xml on a CD-ROM names the core (ISO transport)', async (t) => {
  const root = deviceRoot(t, { hostname: 'localhost' });
  // sr0 holds something else (not ISO 9660), sr1 the OVF environment; no vmware-rpctool on this machine.
  insertCdrom(root, Buffer.alloc(64 * 1024, 0x5a), 'sr0');
  cdrom(root, { thingName: 'kiosk-ber-0042' }, 'sr1');
  const r = await check(root);
  t.equal(r.code, 0, r.step.detail);
  t.equal(r.name, 'kiosk-ber-0042');
  t.match(r.step.detail, `ovf-env.xml on ${join(root.agent.sources.devDir, 'sr1')}`);
});

t.test('run logs which source named the core', async (t) => {
  const port = await closedPort();
  const named = deviceRoot(t, {
    endpoint: { host: '127.0.0.1', port },
    agent: { preflight: { networkWaitSeconds: 0 } },
  });
  cdrom(named, { thingName: 'edge-iso-1' });
  const r = await runAgent(named, ['run']);
  t.match(
    logLines(r.stderr).find((j) => /^ThingName \S+ taken from/.test(String(j.msg))),
    {
      thingName: 'edge-iso-1',
      source: 'ovf-env',
      namedBy: `OVF environment property thing-name (ovf-env.xml on ${join(named.agent.sources.devDir, 'sr0')})`,
      msg: `ThingName edge-iso-1 taken from the OVF environment property thing-name (ovf-env.xml on ${join(named.agent.sources.devDir, 'sr0')})`,
    },
  );

  const fallback = deviceRoot(t, {
    hostname: 'gg-clone-0007',
    endpoint: { host: '127.0.0.1', port },
    agent: { preflight: { networkWaitSeconds: 0 } },
  });
  const f = await runAgent(fallback, ['run']);
  const line = logLines(f.stderr).find((j) => /^ThingName \S+ taken from/.test(String(j.msg)));
  t.match(line, {
    thingName: 'gg-clone-0007',
    source: 'hostname',
    msg: 'ThingName gg-clone-0007 taken from the hostname',
  });
  t.match(
    line?.namedBy,
    /^thingName.source hostname; no OVF environment \(guestinfo.ovfEnv: .*vmware-rpctool not found; no CD-ROM drive in /,
  );
});

t.test('no OVF environment: the configured source names the core', async (t) => {
  const r = await check(deviceRoot(t, { hostname: 'gg-clone-0042' }));
  t.equal(r.code, 0);
  t.equal(r.name, 'gg-clone-0042');
  t.equal(r.step.detail, 'gg-clone-0042', 'as before the OVF source existed');
  const guestinfo = deviceRoot(t, { agent: { thingName: { source: 'guestinfo' } } });
  setGuestinfoOvfEnv(guestinfo, '', { 'thing-name': 'from-guestinfo-key' }); // guestinfo.ovfEnv set but empty
  t.equal((await check(guestinfo)).name, 'from-guestinfo-key');
});

t.test('an environment without thing-name, or with it empty, falls back to the configured source', async (t) => {
  const absent = deviceRoot(t, { hostname: 'gg-clone-0100' });
  setGuestinfoOvfEnv(absent, ovfEnvironmentXml({ 'instance-id': 'i-1' }));
  t.equal((await check(absent)).name, 'gg-clone-0100');
  const empty = deviceRoot(t, { hostname: 'gg-clone-0101' });
  cdrom(empty, { xml: ovfEnvironmentXml({ 'thing-name': '  ' }) });
  t.equal((await check(empty)).name, 'gg-clone-0101', 'a property left blank in the wizard arrives empty');
  const sibling = deviceRoot(t, { hostname: 'gg-clone-0102' });
  setGuestinfoOvfEnv(sibling, ovfEnvironmentXml({}, { sibling: { 'thing-name': 'not-mine' } }));
  t.equal((await check(sibling)).name, 'gg-clone-0102', "a sibling VM's property (Entity) is not this machine's");
  const fallbackRefused = deviceRoot(t, { hostname: 'localhost' });
  setGuestinfoOvfEnv(fallbackRefused, ovfEnvironmentXml({}));
  t.equal((await check(fallbackRefused)).step.reason, 'thing-name-denied', 'the fallback keeps its own refusals');
});

const MALFORMED: Record<string, string> = {
  'unclosed element': ovfEnvironmentXml({ 'thing-name': 'edge-1' }).replace('</Environment>', ''),
  'not XML': 'thing-name=edge-1\n',
  'another root element': '<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>',
  'unbound prefix': ovfEnvironmentXml({ 'thing-name': 'edge-1' }).replace('xmlns:oe=', 'xmlns:xx='),
  'key not in the OVF environment namespace': ovfEnvironmentXml({ 'thing-name': 'edge-1' }).replace('oe:key=', 'key='),
  'thing-name given twice': ovfEnvironmentXml({ 'thing-name': 'edge-1' }).replace(
    '</PropertySection>',
    '<Property oe:key="thing-name" oe:value="edge-2"/></PropertySection>',
  ),
  'a DOCTYPE': ovfEnvironmentXml({ 'thing-name': 'edge-1' }).replace(
    '<Environment',
    '<!DOCTYPE Environment [<!ENTITY n "edge-1">]>\n<Environment',
  ),
};

t.test('a malformed environment is refused (exit 3, ovf-env-malformed), not guessed around', async (t) => {
  for (const [what, xml] of Object.entries(MALFORMED)) {
    const root = deviceRoot(t, { hostname: 'gg-clone-0200' });
    setGuestinfoOvfEnv(root, xml);
    const r = await check(root);
    t.equal(r.code, 3, what);
    t.equal(r.step.reason, 'ovf-env-malformed', what);
    t.match(r.step.detail, /^the OVF environment from guestinfo.ovfEnv is not usable: /, what);
  }
  const iso = deviceRoot(t, { hostname: 'gg-clone-0201' });
  cdrom(iso, { xml: MALFORMED['unclosed element'] as string });
  const r = await runAgent(iso, ['run']);
  t.equal(r.code, 3);
  t.match(JSON.parse(readFileSync(iso.stateFile, 'utf8')).lastError, { reason: 'ovf-env-malformed', exitCode: 3 });
  t.notOk(existsSync(iso.renderedConfig), 'nothing rendered, nothing installed');
  const latin1 = deviceRoot(t, { hostname: 'gg-clone-0202' });
  const iso2 = join(latin1.dir, 'latin1.iso');
  makeOvfEnvIso(iso2, Buffer.from(ovfEnvironmentXml({ 'thing-name': 'caf\u00e9' }), 'latin1'));
  insertCdrom(latin1, iso2);
  t.match((await check(latin1)).step, { reason: 'ovf-env-malformed', detail: /not UTF-8/ });
});

t.test('a thing-name the ThingName rules refuse is refused with their reason, not replaced', async (t) => {
  const cases: [string, string, Partial<DeviceRootOptions>][] = [
    ['localhost', 'thing-name-denied', {}],
    ['edge-1.example.com', 'thing-name-fqdn', {}],
    ['edge 1', 'thing-name-invalid-characters', {}],
    ['edge:1', 'thing-name-colon', {}],
    ['x'.repeat(129), 'thing-name-too-long', {}],
    ['blocked-7', 'thing-name-denied', { agent: { thingName: { deny: ['BLOCKED-7'] } } }],
    ['gg-template', 'thing-name-template-hostname', { templateHostname: 'gg-template' }],
  ];
  for (const [value, reason, opts] of cases) {
    const what = value.length > 20 ? `${value.length} characters` : value;
    const root = deviceRoot(t, { hostname: 'gg-clone-0300', ...opts });
    setGuestinfoOvfEnv(root, ovfEnvironmentXml({ 'thing-name': value }));
    const r = await check(root);
    t.equal(r.code, 3, what);
    t.equal(r.step.reason, reason, what);
    t.match(r.step.detail, '(from the OVF environment property thing-name, guestinfo.ovfEnv)', what);
  }
  const dashed = deviceRoot(t, { agent: { thingName: { fqdn: 'dashes' } } });
  cdrom(dashed, { thingName: 'edge-1.example.com' });
  const d = await check(dashed);
  t.equal(d.name, 'edge-1-example-com', 'thingName.fqdn applies to the OVF value as to a hostname');
  t.match(d.step.detail, 'value edge-1.example.com, thingName.fqdn: dashes');
});

t.test('precedence: guestinfo transport, then ISO transport, then thingName.source', async (t) => {
  const both = deviceRoot(t);
  setGuestinfoOvfEnv(both, ovfEnvironmentXml({ 'thing-name': 'from-guestinfo-env' }));
  cdrom(both, { thingName: 'from-iso-env' });
  t.equal((await check(both)).name, 'from-guestinfo-env');

  const overSource = deviceRoot(t, { agent: { thingName: { source: 'guestinfo' } } });
  setGuestinfoOvfEnv(overSource, ovfEnvironmentXml({ 'thing-name': 'from-ovf' }), { 'thing-name': 'from-key' });
  t.equal((await check(overSource)).name, 'from-ovf', 'the OVF property over guestinfo.thing-name');

  const off = deviceRoot(t, { hostname: 'gg-clone-0400', agent: { thingName: { ovfEnv: false } } });
  cdrom(off, { thingName: 'from-iso-env' });
  t.equal((await check(off)).name, 'gg-clone-0400', 'thingName.ovfEnv: false reads no environment');

  const key = deviceRoot(t, { agent: { thingName: { ovfProperty: 'gg.name' } } });
  cdrom(key, { xml: ovfEnvironmentXml({ 'thing-name': 'not-this', 'gg.name': 'this-one' }, { prefix: 'ovfenv' }) });
  t.equal((await check(key)).name, 'this-one', 'thingName.ovfProperty picks the key; any prefix binds the namespace');
});

t.test('a CD-ROM the user may not read: check says so rather than name the machine otherwise', async (t) => {
  const root = deviceRoot(t, { hostname: 'gg-clone-0500' });
  cdrom(root, { thingName: 'edge-root-only' });
  const exe = join(root.dir, 'greengrass-firstboot'); // where the user may run it, wherever the checkout is
  copyFileSync(EXE, exe);
  execFileSync('chmod', ['-R', 'a+rX', root.dir]); // the config and the rest readable by the user
  chmodSync(join(root.agent.sources.devDir, 'sr0'), 0o600); // the drive as root:cdrom 0660 is to a user outside cdrom
  const r = spawnSync(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--clear-groups', exe, 'check', '--config', root.configPath, '--json'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  t.equal(r.status, 3, r.stderr);
  const step = JSON.parse(r.stdout).steps.find((s: { step: string }) => s.step === 'thing-name');
  t.match(step, { ok: false, reason: 'ovf-env-unreadable', detail: /cannot read .*sr0 \(EACCES\).*run as root/ });
});
