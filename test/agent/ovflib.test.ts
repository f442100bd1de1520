// VMware's own OVF-environment parser (vmw-ovflib, built from Debian's package by harness/ovflib.ts) against the
// agent's reading of the same documents: the properties of every good document the tests feed the agent, and the
// ThingName the BUILT agent takes from them, are the ones VMware's code reads. Documents that are not XML are
// refused by both; the documents the agent refuses although ovflib reads them are listed and checked as such.
import t from 'tap';
import { join } from 'node:path';
import { parseOvfEnvironment } from '../../agent/src/ovf-env.ts';
import { createDeviceRoot } from '../../harness/device-root.ts';
import { ensureBuilt, runAgent, tcpListener } from '../../harness/agent-exe.ts';
import { insertCdrom, makeOvfEnvIso, setGuestinfoOvfEnv } from '../../harness/ovf-env.ts';
import { buildOvflib, ovflibProperties } from '../../harness/ovflib.ts';
import { GOOD, NOT_XML, REFUSED_BY_THE_AGENT_ONLY } from './ovf-env-fixtures.ts';

ensureBuilt();
buildOvflib();
const endpoint = await tcpListener();
t.teardown(() => endpoint.close());

function agentProperties(xml: string): Record<string, string> {
  return Object.fromEntries(parseOvfEnvironment(xml, 'test'));
}

t.test('the agent reads the properties VMware ovflib reads', async (t) => {
  for (const [what, xml] of Object.entries(GOOD)) {
    const vmware = ovflibProperties(xml);
    t.ok(vmware.ok, `ovflib accepts: ${what}`);
    if (vmware.ok) t.same(agentProperties(xml), vmware.properties, what);
  }
});

t.test("the built agent's ThingName is ovflib's thing-name, on both transports", async (t) => {
  for (const [what, xml] of Object.entries(GOOD)) {
    const vmware = ovflibProperties(xml);
    if (!vmware.ok) continue; // failed in the test above
    const expected = vmware.properties['thing-name'] || 'gg-clone-fallback';
    for (const transport of ['guestinfo', 'iso'] as const) {
      const root = createDeviceRoot({
        hostname: 'gg-clone-fallback',
        endpoint: { host: '127.0.0.1', port: endpoint.port },
      });
      try {
        if (transport === 'guestinfo') setGuestinfoOvfEnv(root, xml);
        else insertCdrom(root, makeOvfEnvIso(join(root.dir, 'env.iso'), xml));
        const r = await runAgent(root, ['check', '--json']);
        t.equal(JSON.parse(r.stdout).thingName, expected, `${what} (${transport})`);
      } finally {
        root.cleanup();
      }
    }
  }
});

t.test('documents that are not XML: both refuse them', async (t) => {
  for (const [what, xml] of Object.entries(NOT_XML)) {
    t.notOk(ovflibProperties(xml).ok, `ovflib refuses: ${what}`);
    t.throws(
      () => agentProperties(xml),
      { name: 'OvfEnvError', reason: 'ovf-env-malformed' },
      `the agent refuses: ${what}`,
    );
  }
});

t.test('documents ovflib reads but the agent refuses as ambiguous or not an OVF environment', async (t) => {
  for (const [what, xml] of Object.entries(REFUSED_BY_THE_AGENT_ONLY)) {
    t.ok(ovflibProperties(xml).ok, `ovflib reads: ${what}`);
    t.throws(
      () => agentProperties(xml),
      { name: 'OvfEnvError', reason: 'ovf-env-malformed' },
      `the agent refuses: ${what}`,
    );
  }
});
