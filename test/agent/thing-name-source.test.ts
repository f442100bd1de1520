// ThingName sources through the BUILT agent's `check --json`: hostname, VMware guestinfo (via a
// vmware-rpctool stand-in script), DMI serial / UUID, templates, FQDN modes.
import t from 'tap';
import { createDeviceRoot, writeFakeRpctool, type DeviceRootOptions } from '../../harness/device-root.ts';
import { ensureBuilt, runAgent, tcpListener } from '../../harness/agent-exe.ts';

ensureBuilt();
const endpoint = await tcpListener();
t.teardown(() => endpoint.close());

async function checkName(
  opts: DeviceRootOptions,
  rpctool?: Record<string, string>,
): Promise<{ code: number | null; name: string | null; step: { ok: boolean; detail: string; reason?: string } }> {
  const root = createDeviceRoot({ endpoint: { host: '127.0.0.1', port: endpoint.port }, ...opts });
  try {
    if (rpctool) writeFakeRpctool(root, rpctool);
    const r = await runAgent(root, ['check', '--json']);
    const out = JSON.parse(r.stdout);
    return {
      code: r.code,
      name: out.thingName,
      step: out.steps.find((s: { step: string }) => s.step === 'thing-name'),
    };
  } finally {
    root.cleanup();
  }
}

t.test('hostname is the default source', async (t) => {
  const r = await checkName({ hostname: 'gg-clone-0042' });
  t.equal(r.code, 0);
  t.equal(r.name, 'gg-clone-0042');
});

t.test('guestinfo via vmware-rpctool', async (t) => {
  const r = await checkName(
    { hostname: 'localhost', agent: { thingName: { source: 'guestinfo', guestinfoKey: 'gg.thing' } } },
    { 'gg.thing': 'store-0815-edge' },
  );
  t.equal(r.code, 0, 'a denied hostname does not matter when the name comes from guestinfo');
  t.equal(r.name, 'store-0815-edge');
});

t.test('guestinfo value that is an FQDN follows thingName.fqdn', async (t) => {
  const refused = await checkName(
    { agent: { thingName: { source: 'guestinfo' } } },
    { 'thing-name': 'edge-1.example.com' },
  );
  t.equal(refused.code, 3);
  t.equal(refused.step.reason, 'thing-name-fqdn');
  const dashed = await checkName(
    { agent: { thingName: { source: 'guestinfo', fqdn: 'dashes' } } },
    { 'thing-name': 'edge-1.example.com' },
  );
  t.equal(dashed.name, 'edge-1-example-com');
});

t.test('missing vmware-rpctool is a clear permanent error', async (t) => {
  const r = await checkName({ agent: { thingName: { source: 'guestinfo' } } });
  t.equal(r.code, 3);
  t.equal(r.step.reason, 'guestinfo-unavailable');
  t.match(r.step.detail, /vmware-rpctool not found: guestinfo needs open-vm-tools/);
});

t.test('DMI serial and uuid', async (t) => {
  t.equal(
    (await checkName({ dmiSerial: 'SN-0001-XY', agent: { thingName: { source: 'serial' } } })).name,
    'SN-0001-XY',
  );
  t.equal(
    (await checkName({ dmiUuid: '4C4C4544-0042-3510-8052-B4C04F4D3732', agent: { thingName: { source: 'uuid' } } }))
      .name,
    '4c4c4544-0042-3510-8052-b4c04f4d3732',
  );
  const zero = await checkName({
    dmiUuid: '00000000-0000-0000-0000-000000000000',
    agent: { thingName: { source: 'uuid' } },
  });
  t.equal(zero.code, 3);
  t.equal(zero.step.reason, 'dmi-placeholder');
});

t.test('template over several sources', async (t) => {
  const r = await checkName(
    {
      hostname: 'kiosk.branch.example',
      dmiSerial: 'ABC123',
      agent: {
        thingName: { source: 'template', template: '{{hostname}}-{{serial}}-{{guestinfo.site}}', fqdn: 'short' },
      },
    },
    { site: 'ber1' },
  );
  t.equal(r.code, 0);
  t.equal(r.name, 'kiosk-ABC123-ber1');
  const missing = await checkName(
    { agent: { thingName: { source: 'template', template: '{{hostname}}-{{guestinfo.site}}' } } },
    {},
  );
  t.equal(missing.code, 3);
  t.equal(missing.step.reason, 'guestinfo-unset');
  const unknown = await checkName({ agent: { thingName: { source: 'template', template: '{{hostname}}-{{mac}}' } } });
  t.equal(unknown.step.reason, 'template-token-unknown');
});

t.test(
  'the template hostname check uses the recorded name, case-insensitively, and only refuses that name',
  async (t) => {
    t.equal(
      (await checkName({ hostname: 'GG-TEMPLATE', templateHostname: 'gg-template' })).step.reason,
      'thing-name-template-hostname',
    );
    t.equal((await checkName({ hostname: 'gg-template-2', templateHostname: 'gg-template' })).name, 'gg-template-2');
  },
);
