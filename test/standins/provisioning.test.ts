// The provisioning STAND-IN, driven by the real `mqtt` npm client over mTLS.
import t from 'tap';
import { type MqttClient } from 'mqtt';
import { connectDevice, request } from '../../harness/mqtt-device.ts';
import { readFileSync, mkdtempSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createCa, issueCertificate, type KeyPair } from '../../standins/pki.ts';
import {
  startProvisioningStandin,
  CREATE_TOPIC,
  provisionTopic,
  type ProvisioningStandin,
} from '../../standins/provisioning/server.ts';

const ca = createCa();
const claim = issueCertificate(ca, { commonName: 'claim' });
const TEMPLATE = 'GoldenImageFleetTemplate';

const connect = (
  s: { host: string; port: number },
  id: KeyPair | null,
  trust = ca.certificatePem,
): Promise<MqttClient> => connectDevice(s, id, { trust });

async function provision(c: MqttClient, params: Record<string, string>, template = TEMPLATE) {
  const created = await request(c, CREATE_TOPIC, {});
  const reg = await request(c, provisionTopic(template), {
    certificateOwnershipToken: created.body.certificateOwnershipToken,
    parameters: params,
  });
  return { created, reg };
}

async function withStandin(
  t: { teardown(fn: () => unknown): void },
  opts: Partial<Parameters<typeof startProvisioningStandin>[0]>,
  fn: (s: ProvisioningStandin) => Promise<void>,
) {
  const s = await startProvisioningStandin({ ca, templateName: TEMPLATE, ...opts });
  const clients: MqttClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.end(true);
    await s.stop();
  });
  await fn(s);
}

t.test('a claim-signed client gets a certificate and registers its Thing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prov-standin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const records = join(dir, 'records.jsonl');
  await withStandin(t, { recordsFile: records, defaultThingGroup: 'golden-fleet' }, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    const { created, reg } = await provision(c, { ThingName: 'edge-0001' });
    t.equal(created.outcome, 'accepted');
    const cert = new X509Certificate(created.body.certificatePem);
    t.ok(
      cert.verify(new X509Certificate(ca.certificatePem).publicKey),
      'device certificate is signed by the stand-in CA',
    );
    t.equal(
      created.body.certificateId,
      cert.fingerprint256.replace(/:/g, '').toLowerCase(),
      'certificateId is the certificate fingerprint',
    );
    t.match(created.body.privateKey, /^-----BEGIN RSA PRIVATE KEY-----\n/, 'the key is PKCS#1 PEM, as AWS issues it');
    const { createPrivateKey: parseKey } = await import('node:crypto');
    const issuedKey = parseKey(created.body.privateKey);
    t.equal(issuedKey.asymmetricKeyType, 'rsa');
    t.equal(
      issuedKey.asymmetricKeyDetails?.modulusLength,
      2048,
      'a 2048-bit RSA key pair, as CreateKeysAndCertificate makes',
    );
    t.ok(
      cert.checkPrivateKey(await import('node:crypto').then((m) => m.createPrivateKey(created.body.privateKey))),
      'key matches cert',
    );
    t.equal(reg.outcome, 'accepted');
    t.same(reg.body, { thingName: 'edge-0001', deviceConfiguration: {} });
    t.equal(s.registrations.length, 1);
    t.equal(s.registrations[0]?.thingName, 'edge-0001');
    t.equal(s.registrations[0]?.thingGroupName, 'golden-fleet');
    t.equal(s.registrations[0]?.certificateId, created.body.certificateId);
    t.equal(s.registrations[0]?.claimFingerprint, new X509Certificate(claim.certificatePem).fingerprint256);
    t.equal(s.certificatesIssued, 1);
    t.same(s.takeovers, []);
    // the new device certificate (now ACTIVE) can connect on its own
    const dev = await connect(s, {
      certificatePem: created.body.certificatePem,
      privateKeyPem: created.body.privateKey,
    });
    dev.end(true);
    // records file: JSON lines, never the private key
    const text = readFileSync(records, 'utf8');
    t.notMatch(text, /PRIVATE KEY/, 'records never hold a private key');
    const events = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.ok(events.some((e) => e.event === 'registration' && e.registration.thingName === 'edge-0001'));
  });
});

t.test('QoS 0, 1 and 2 requests are all answered', async (t) => {
  await withStandin(t, {}, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    await c.subscribeAsync(`${CREATE_TOPIC}/accepted`, { qos: 1 });
    for (const qos of [0, 1, 2] as const) {
      const got = new Promise<any>((resolve) => c.once('message', (_tp, p) => resolve(JSON.parse(p.toString()))));
      await c.publishAsync(CREATE_TOPIC, '{}', { qos });
      t.match((await got).certificateId, /^[0-9a-f]{64}$/, `QoS ${qos}`);
    }
    t.equal(s.certificatesIssued, 3);
  });
});

t.test('ThingGroupName parameter wins over the default group', async (t) => {
  await withStandin(t, { defaultThingGroup: 'default-group' }, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    const { reg } = await provision(c, { ThingName: 'edge-g', ThingGroupName: 'site-a' });
    t.equal(reg.outcome, 'accepted');
    t.equal(s.registrations[0]?.thingGroupName, 'site-a');
  });
});

t.test('a device cert that is still PENDING_ACTIVATION cannot connect', async (t) => {
  await withStandin(t, {}, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    const created = await request(c, CREATE_TOPIC, {});
    await t.rejects(
      connect(s, { certificatePem: created.body.certificatePem, privateKeyPem: created.body.privateKey }),
    );
  });
});

t.test('TLS refuses a client with a cert from another CA, or with no cert', async (t) => {
  await withStandin(t, {}, async (s) => {
    const otherCa = createCa('some other CA');
    const foreign = issueCertificate(otherCa, { commonName: 'intruder' });
    await t.rejects(connect(s, foreign), 'foreign CA refused');
    await t.rejects(connect(s, null), 'no client certificate refused');
    const ok = await connect(s, claim);
    ok.end(true);
    t.equal(s.certificatesIssued, 0);
  });
});

t.test('bad, reused and expired ownership tokens are rejected', async (t) => {
  await withStandin(t, { tokenTtlSeconds: 1 }, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    const bad = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: 'not-a-token',
      parameters: { ThingName: 'edge-1' },
    });
    t.equal(bad.outcome, 'rejected');
    t.equal(bad.body.errorCode, 'InvalidCertificateOwnershipToken');
    t.equal(bad.body.statusCode, 400);
    const none = await request(c, provisionTopic(TEMPLATE), { parameters: { ThingName: 'edge-1' } });
    t.equal(none.body.errorCode, 'InvalidCertificateOwnershipToken');

    const { created, reg } = await provision(c, { ThingName: 'edge-1' });
    t.equal(reg.outcome, 'accepted');
    const reused = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: created.body.certificateOwnershipToken,
      parameters: { ThingName: 'edge-2' },
    });
    t.equal(reused.outcome, 'rejected');
    t.match(reused.body.errorMessage, /already been used/);

    const late = await request(c, CREATE_TOPIC, {});
    await new Promise((r) => setTimeout(r, 1200));
    const expired = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: late.body.certificateOwnershipToken,
      parameters: { ThingName: 'edge-3' },
    });
    t.equal(expired.outcome, 'rejected');
    t.match(expired.body.errorMessage, /expired/);
    t.same(
      s.registrations.map((r) => r.thingName),
      ['edge-1'],
    );
  });
});

t.test('a token is only valid for the claim certificate it was issued to', async (t) => {
  await withStandin(t, {}, async (s) => {
    const claim2 = issueCertificate(ca, { commonName: 'claim-2' });
    const a = await connect(s, claim);
    const b = await connect(s, claim2);
    t.teardown(() => {
      a.end(true);
      b.end(true);
    });
    const created = await request(a, CREATE_TOPIC, {});
    const stolen = await request(b, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: created.body.certificateOwnershipToken,
      parameters: { ThingName: 'edge-x' },
    });
    t.equal(stolen.outcome, 'rejected');
    t.equal(stolen.body.statusCode, 403);
    t.equal(s.registrations.length, 0);
  });
});

t.test('missing or invalid ThingName, unknown template, bad payload are rejected', async (t) => {
  await withStandin(t, { requiredParameters: ['ThingName', 'SerialNumber'] }, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    const missing = await provision(c, { SerialNumber: '42' });
    t.equal(missing.reg.outcome, 'rejected');
    t.equal(missing.reg.body.errorCode, 'InvalidParameters');
    t.match(missing.reg.body.errorMessage, /ThingName/);
    const missingSerial = await provision(c, { ThingName: 'edge-s' });
    t.match(missingSerial.reg.body.errorMessage, /SerialNumber/);
    const fqdn = await provision(c, { ThingName: 'edge.example.com', SerialNumber: '1' });
    t.equal(fqdn.reg.outcome, 'rejected');
    t.match(fqdn.reg.body.errorMessage, /FQDN/);
    const denied = await provision(c, { ThingName: 'localhost', SerialNumber: '1' });
    t.match(denied.reg.body.errorMessage, /deny list/);
    const unknown = await provision(c, { ThingName: 'edge-u', SerialNumber: '1' }, 'NoSuchTemplate');
    t.equal(unknown.reg.outcome, 'rejected');
    t.equal(unknown.reg.body.statusCode, 404);
    t.equal(unknown.reg.body.errorCode, 'ResourceNotFoundException');
    const created = await request(c, CREATE_TOPIC, {});
    t.equal(created.outcome, 'accepted');
    c.publish(provisionTopic(TEMPLATE), 'not json{', { qos: 1 });
    const garbage = await new Promise<any>((resolve) =>
      c.once('message', (_tp, p) => resolve(JSON.parse(p.toString()))),
    );
    t.equal(garbage.errorCode, 'InvalidPayload');
    t.equal(s.registrations.length, 0);
    t.ok(s.rejections.length >= 6);
  });
});

t.test(
  'a second registration of a ThingName (template REPLACE) is accepted: the Thing holds both certificates',
  async (t) => {
    await withStandin(t, {}, async (s) => {
      const a = await connect(s, claim);
      const b = await connect(s, claim);
      t.teardown(() => {
        a.end(true);
        b.end(true);
      });
      const first = await provision(a, { ThingName: 'clone-name' });
      t.equal(first.reg.outcome, 'accepted');
      const second = await provision(b, { ThingName: 'clone-name' });
      t.equal(
        second.reg.outcome,
        'accepted',
        'AWS accepts a RegisterThing for an existing Thing when the template says REPLACE',
      );
      t.equal(second.reg.body.thingName, 'clone-name');
      t.same(s.principalsOf('clone-name'), [first.created.body.certificateId, second.created.body.certificateId]);
      t.match(s.takeovers, [
        {
          thingName: 'clone-name',
          certificateId: second.created.body.certificateId,
          previousCertificateIds: [first.created.body.certificateId],
        },
      ]);
      t.equal(s.registrations.length, 2);
      for (const created of [first.created, second.created]) {
        const dev = await connect(s, {
          certificatePem: created.body.certificatePem,
          privateKeyPem: created.body.privateKey,
        });
        dev.end(true);
      }
      t.pass('both certificates are ACTIVE: both machines can connect as the Thing');
    });
  },
);

t.test('with a FAIL template, a second registration of a ThingName is 409 ResourceConflictsException', async (t) => {
  await withStandin(t, { thingOverride: 'FAIL' }, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    t.equal((await provision(c, { ThingName: 'taken' })).reg.outcome, 'accepted');
    const second = await provision(c, { ThingName: 'taken' });
    t.match(second.reg, { outcome: 'rejected', body: { statusCode: 409, errorCode: 'ResourceConflictsException' } });
    t.equal(s.principalsOf('taken').length, 1, 'nothing attached');
    t.same(s.takeovers, []);
    await t.rejects(
      connect(s, { certificatePem: second.created.body.certificatePem, privateKeyPem: second.created.body.privateKey }),
      'the refused certificate stays PENDING',
    );
  });
});

t.test('RegisterThing naming a thing group that does not exist fails; the Thing is not created', async (t) => {
  const groups = ['golden-fleet'];
  await withStandin(t, { thingGroups: () => groups }, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    const missing = await provision(c, { ThingName: 'edge-g', ThingGroupName: 'NoSuchFleet' });
    t.match(missing.reg, {
      outcome: 'rejected',
      body: {
        statusCode: 400,
        errorCode: 'ResourceRegistrationFailureException',
        errorMessage: /NoSuchFleet does not exist/,
      },
    });
    t.same(s.principalsOf('edge-g'), [], 'no Thing');
    await t.rejects(
      connect(s, {
        certificatePem: missing.created.body.certificatePem,
        privateKeyPem: missing.created.body.privateKey,
      }),
      'certificate still PENDING',
    );
    t.equal((await provision(c, { ThingName: 'edge-g', ThingGroupName: 'golden-fleet' })).reg.outcome, 'accepted');
    groups.push('made-later');
    t.equal(
      (await provision(c, { ThingName: 'edge-h', ThingGroupName: 'made-later' })).reg.outcome,
      'accepted',
      'a group created later exists at the next RegisterThing',
    );
  });
});

t.test('responses go only to the connection that asked', async (t) => {
  await withStandin(t, {}, async (s) => {
    const a = await connect(s, claim);
    const b = await connect(s, claim);
    t.teardown(() => {
      a.end(true);
      b.end(true);
    });
    await b.subscribeAsync(`${CREATE_TOPIC}/accepted`);
    let leaked = 0;
    b.on('message', () => leaked++);
    const got = await request(a, CREATE_TOPIC, {});
    t.equal(got.outcome, 'accepted');
    await new Promise((r) => setTimeout(r, 200));
    t.equal(leaked, 0, 'another client subscribed to the same reply topic gets nothing');
  });
});

t.test('rate limit answers 429 ThrottlingException', async (t) => {
  await withStandin(t, { ratePerSecond: 2 }, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await request(c, CREATE_TOPIC, {})).body.certificateOwnershipToken);
    const answers = await Promise.all(
      tokens.map((tok, i) =>
        request(c, provisionTopic(TEMPLATE), {
          certificateOwnershipToken: tok,
          parameters: { ThingName: `rate-${i}` },
        }),
      ),
    );
    // request() resolves on the first answer on the shared topics; count from the stand-in's own records instead
    void answers;
    await new Promise((r) => setTimeout(r, 200));
    t.equal(s.registrations.length, 2, 'two per second pass');
    const throttled = s.rejections.filter((r) => r.errorCode === 'ThrottlingException');
    t.equal(throttled.length, 1);
    // after a second the throttled device can retry with the same (unused) token
    await new Promise((r) => setTimeout(r, 1100));
    const registered = new Set(s.registrations.map((r) => r.thingName));
    const i = [0, 1, 2].find((n) => !registered.has(`rate-${n}`)) as number;
    const again = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: tokens[i],
      parameters: { ThingName: `rate-${i}` },
    });
    t.equal(again.outcome, 'accepted');
    t.equal(s.registrations.length, 3);
  });
});

t.test('429 reply body', async (t) => {
  await withStandin(t, { ratePerSecond: 1 }, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    // both tokens first: issuing a certificate can take longer than the 1 s window on a busy machine
    const tok1 = (await request(c, CREATE_TOPIC, {})).body.certificateOwnershipToken;
    const tok2 = (await request(c, CREATE_TOPIC, {})).body.certificateOwnershipToken;
    const first = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: tok1,
      parameters: { ThingName: 'r-1' },
    });
    t.equal(first.outcome, 'accepted');
    const second = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: tok2,
      parameters: { ThingName: 'r-2' },
    });
    t.equal(second.outcome, 'rejected');
    t.same(second.body, { statusCode: 429, errorCode: 'ThrottlingException', errorMessage: 'Rate exceeded' });
  });
});

t.test('the default throttle is a token bucket: half a second after a burst of R, one more call passes', async (t) => {
  for (const [rateLimiter, expected] of [
    [undefined, 'accepted'],
    ['sliding-window', 'rejected'],
  ] as const) {
    await withStandin(t, { ratePerSecond: 2, ...(rateLimiter ? { rateLimiter } : {}) }, async (s) => {
      const c = await connect(s, claim);
      t.teardown(() => c.end(true));
      const tokens: string[] = [];
      for (let i = 0; i < 3; i++) tokens.push((await request(c, CREATE_TOPIC, {})).body.certificateOwnershipToken);
      const burst = [];
      for (let i = 0; i < 2; i++)
        burst.push(
          await request(c, provisionTopic(TEMPLATE), {
            certificateOwnershipToken: tokens[i],
            parameters: { ThingName: `tb-${i}` },
          }),
        );
      t.same(
        burst.map((a) => a.outcome),
        ['accepted', 'accepted'],
      );
      await new Promise((r) => setTimeout(r, 600));
      const third = await request(c, provisionTopic(TEMPLATE), {
        certificateOwnershipToken: tokens[2],
        parameters: { ThingName: 'tb-2' },
      });
      t.equal(
        third.outcome,
        expected,
        `${rateLimiter ?? 'default (token-bucket)'}: the call 600 ms after two is ${expected}`,
      );
    });
  }
});

t.test('a rate below 1/s spaces calls 1/R apart (R = 0.5: one per 2 s)', async (t) => {
  await withStandin(t, { ratePerSecond: 0.5 }, async (s) => {
    const c = await connect(s, claim);
    t.teardown(() => c.end(true));
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await request(c, CREATE_TOPIC, {})).body.certificateOwnershipToken);
    const first = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: tokens[0],
      parameters: { ThingName: 'slow-0' },
    });
    t.equal(first.outcome, 'accepted');
    await new Promise((r) => setTimeout(r, 1200));
    const second = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: tokens[1],
      parameters: { ThingName: 'slow-1' },
    });
    t.equal(second.outcome, 'rejected', '1.2 s later is still inside the 2 s window');
    t.equal(second.body.errorCode, 'ThrottlingException');
    await new Promise((r) => setTimeout(r, 1000));
    const third = await request(c, provisionTopic(TEMPLATE), {
      certificateOwnershipToken: tokens[2],
      parameters: { ThingName: 'slow-2' },
    });
    t.equal(third.outcome, 'accepted', '2.2 s after the first');
    t.same(
      s.registrations.map((r) => r.thingName),
      ['slow-0', 'slow-2'],
    );
  });
});

t.test(
  'stop, then restart on the same port; a restarted stand-in remembers its Things and their certificates',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'prov-standin-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const records = join(dir, 'records.jsonl');
    const s1 = await startProvisioningStandin({ ca, templateName: TEMPLATE, recordsFile: records });
    const c1 = await connect(s1, claim);
    const r1 = await provision(c1, { ThingName: 'keep-me' });
    t.equal(r1.reg.outcome, 'accepted');
    const port = s1.port;
    await s1.stop();
    await t.rejects(connect({ host: '127.0.0.1', port }, claim), 'nothing listens after stop()');
    c1.end(true);
    const s2 = await startProvisioningStandin({ ca, templateName: TEMPLATE, port, recordsFile: records });
    t.teardown(() => s2.stop());
    t.equal(s2.port, port);
    const c2 = await connect(s2, claim);
    t.teardown(() => c2.end(true));
    const dup = await provision(c2, { ThingName: 'keep-me' });
    t.equal(dup.reg.outcome, 'accepted');
    t.match(
      s2.takeovers,
      [{ thingName: 'keep-me', previousCertificateIds: [r1.created.body.certificateId] }],
      'the certificate from before the restart is still attached',
    );
    const fresh = await provision(c2, { ThingName: 'new-one' });
    t.equal(fresh.reg.outcome, 'accepted');
  },
);

t.test('a restarted stand-in still knows a certificate created but never registered, and its token', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prov-standin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const records = join(dir, 'records.jsonl');
  const s1 = await startProvisioningStandin({ ca, templateName: TEMPLATE, recordsFile: records });
  const c1 = await connect(s1, claim);
  const created = await request(c1, CREATE_TOPIC, {});
  c1.end(true);
  await s1.stop();
  t.notMatch(readFileSync(records, 'utf8'), created.body.certificateOwnershipToken, 'the records hold no token');
  const s2 = await startProvisioningStandin({ ca, templateName: TEMPLATE, recordsFile: records });
  t.teardown(() => s2.stop());
  const device = { certificatePem: created.body.certificatePem, privateKeyPem: created.body.privateKey };
  await t.rejects(connect(s2, device), 'a PENDING_ACTIVATION certificate is refused after the restart too');
  const c2 = await connect(s2, claim);
  t.teardown(() => c2.end(true));
  const reg = await request(c2, provisionTopic(TEMPLATE), {
    certificateOwnershipToken: created.body.certificateOwnershipToken,
    parameters: { ThingName: 'late' },
  });
  t.equal(reg.outcome, 'accepted', 'its unexpired token still registers it');
  (await connect(s2, device)).end(true);
  const spent = await request(c2, provisionTopic(TEMPLATE), {
    certificateOwnershipToken: created.body.certificateOwnershipToken,
    parameters: { ThingName: 'late' },
  });
  t.match(spent.body, { errorCode: 'InvalidCertificateOwnershipToken' }, 'and only once');
});

t.test('CLI: prints "listening host:port", serves, stops on SIGTERM with exit 0; usage errors exit 2', async (t) => {
  const { spawn, spawnSync } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'prov-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // run like the offline pipeline does: node --import tsx (no tsx CLI wrapper relaying signals)
  const cli = join(process.cwd(), 'standins', 'provisioning', 'cli.ts');
  const node = (args: string[]) => [process.execPath, ['--import', 'tsx', ...args]] as const;
  const child = spawn(
    ...node([
      cli,
      '--ca-dir',
      join(dir, 'ca'),
      '--port',
      '0',
      '--template',
      TEMPLATE,
      '--records',
      join(dir, 'r.jsonl'),
    ]),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /listening (\S+)\n/.exec(buf);
      if (m) resolve(m[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`cli exited ${code}`)));
  });
  const [host, port] = line.split(':');
  const cliCa = {
    certificatePem: readFileSync(join(dir, 'ca', 'ca.crt'), 'utf8'),
    privateKeyPem: readFileSync(join(dir, 'ca', 'ca.key'), 'utf8'),
  };
  t.equal(statSync(join(dir, 'ca', 'ca.key')).mode & 0o777, 0o600, 'CA key is 0600');
  const cliClaim = issueCertificate(cliCa, { commonName: 'cli claim' });
  const c = await connect({ host: host as string, port: Number(port) }, cliClaim, cliCa.certificatePem);
  const { reg } = await provision(c, { ThingName: 'cli-device' });
  c.end(true);
  t.equal(reg.outcome, 'accepted');
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c2) => resolve(c2));
    child.kill('SIGTERM');
  });
  t.equal(code, 0);
  t.match(readFileSync(join(dir, 'r.jsonl'), 'utf8'), /"thingName":"cli-device"/);
  const bad = spawnSync(...node([cli, '--ca-dir', join(dir, 'ca'), '--port', 'eighty', '--template', TEMPLATE]), {
    encoding: 'utf8',
  });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /--port must be a port number/);
  const missing = spawnSync(...node([cli, '--port', '0']), { encoding: 'utf8' });
  t.equal(missing.status, 2);
  t.match(missing.stderr, /--ca-dir DIR is required/);
  const leaky = spawnSync(
    ...node([
      cli,
      '--ca-dir',
      join(dir, 'ca'),
      '--port',
      '0',
      '--template',
      TEMPLATE,
      '--rate',
      '2',
      '--rate-limiter',
      'leaky',
    ]),
    { encoding: 'utf8' },
  );
  t.equal(leaky.status, 2);
  t.match(leaky.stderr, /--rate-limiter must be one of token-bucket, sliding-window, got "leaky"/);
  const burstAlone = spawnSync(
    ...node([cli, '--ca-dir', join(dir, 'ca'), '--port', '0', '--template', TEMPLATE, '--rate-burst', '4']),
    { encoding: 'utf8' },
  );
  t.equal(burstAlone.status, 2);
  t.match(burstAlone.stderr, /--rate-limiter and --rate-burst need --rate/);
});
