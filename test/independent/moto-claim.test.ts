// Independent check (issue 17, check 2): `claim create`, `claim rotate`, `endpoints` and `config render` run against
// moto and against the AWS wire stand-in must end in the same IoT and Secrets Manager state and exit the same way.
// Normalisations: snapshot.ts NORMALISATIONS. moto's own deviations from AWS: moto-deviations.ts.
import t from 'tap';
import { DeleteCertificateCommand, DetachPolicyCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { startMoto, type MotoServer } from './backends.ts';
import { at, bothBackends, type Run, type Step } from './compare.ts';

let moto: MotoServer;
t.before(async () => {
  moto = await startMoto();
});
t.teardown(() => moto?.stop());

const CLAIM = 'GreengrassProvisioningClaimPolicy';
const SECRET = 'greengrass/prod/claims-certificate';
const PROD = ['--env', 'prod', '--json'];
const codes = (run: Run) => run.results.filter((r) => r.code !== undefined).map((r) => r.code);

t.test('claim create, create again (reuse), rotate --deactivate-old, rotate (policies carried over)', async (t) => {
  const steps: Step[] = [
    { cli: ['claim', 'create', ...PROD, '--policy', CLAIM, '--thing-group', 'FleetGroup'], label: 'claim create' },
    { checkpoint: 'created' },
    { cli: ['claim', 'create', ...PROD, '--thing-group', 'FleetGroup'], label: 'claim create (reuse)' },
    { checkpoint: 'reused' },
    { cli: ['claim', 'rotate', ...PROD, '--deactivate-old'], label: 'claim rotate --deactivate-old' },
    { checkpoint: 'rotated' },
    { cli: ['claim', 'rotate', ...PROD], label: 'claim rotate' },
    { checkpoint: 'rotated twice' },
  ];
  const { standin, moto: m } = await bothBackends(t, moto, steps);
  // What both must show (so two equally wrong backends do not pass).
  for (const run of [standin, m]) {
    t.same(codes(run), [0, 0, 0, 0], `${run.backend}: every step exits 0`);
    const created = at(run, 'created');
    const claimCert = { [`<cert-in-secret:${SECRET}:current>`]: { status: 'ACTIVE', policies: [CLAIM] } };
    t.same(created.certificates, claimCert, `${run.backend}: one ACTIVE claim certificate with the claim policy`);
    t.same(created.thingGroups.FleetGroup?.members, [], `${run.backend}: the thing group exists, empty`);
    const cur = created.secrets[SECRET]?.current;
    const fields = ['certificateArn', 'certificateId', 'certificatePem', 'privateKey'];
    const holds = `${run.backend}: the secret holds the certificate IoT issued and its key`;
    t.match(cur, { fields, pemIsIotCertificate: true, keyMatchesCertificate: true }, holds);
    t.same(at(run, 'reused'), created, `${run.backend}: a second claim create changes nothing`);
    const twice = at(run, 'rotated twice');
    t.same(
      Object.values(twice.certificates)
        .map((c) => `${c.status} ${c.policies.join(',')}`)
        .sort(),
      [`ACTIVE ${CLAIM}`, `ACTIVE ${CLAIM}`, `INACTIVE ${CLAIM}`],
      `${run.backend}: three certificates; the first deactivated, the policy carried over each time`,
    );
    const versions = twice.secrets[SECRET]?.versions;
    t.same(versions, [['AWSCURRENT'], ['AWSPREVIOUS']], `${run.backend}: one current and one previous version`);
  }
});

t.test('claim rotate --deactivate-old when the old certificate was deleted by hand', async (t) => {
  const steps: Step[] = [
    { cli: ['claim', 'create', ...PROD, '--policy', CLAIM], label: 'claim create' },
    {
      label: 'delete the claim certificate by hand',
      act: async (b) => {
        const value = await b.sm.send(new GetSecretValueCommand({ SecretId: SECRET }));
        const claim = JSON.parse(value.SecretString ?? '{}');
        await b.iot.send(new DetachPolicyCommand({ policyName: CLAIM, target: claim.certificateArn }));
        await b.iot.send(new UpdateCertificateCommand({ certificateId: claim.certificateId, newStatus: 'INACTIVE' }));
        await b.iot.send(new DeleteCertificateCommand({ certificateId: claim.certificateId }));
      },
    },
    { cli: ['claim', 'create', ...PROD], label: 'claim create (certificate gone: config error)' },
    { cli: ['claim', 'rotate', ...PROD, '--policy', CLAIM, '--deactivate-old'], label: 'claim rotate' },
    { checkpoint: 'after' },
  ];
  const { standin } = await bothBackends(t, moto, steps);
  t.same(codes(standin), [0, 3, 0], 'create ok, create again refuses (3), rotate ok');
  t.same(Object.keys(at(standin, 'after').certificates), [`<cert-in-secret:${SECRET}:current>`]);
});

t.test('endpoints and config render: the same output, endpoint prefixes aside', async (t) => {
  const steps: Step[] = [
    { cli: ['endpoints', '--json'], label: 'endpoints' },
    { cli: ['config', 'render', '--thing-group', 'FleetGroup'], label: 'config render' },
  ];
  const { standin, moto: m } = await bothBackends(t, moto, steps, { keepStdout: true });
  t.same(JSON.parse(standin.results[0]!.stdout!), {
    region: 'eu-west-1',
    iotDataEndpoint: '<prefix>-ats.iot.eu-west-1.amazonaws.com',
    iotCredentialEndpoint: '<prefix>.credentials.iot.eu-west-1.amazonaws.com',
  });
  t.match(m.results[1]!.stdout, /iotDataEndpoint: "<prefix>-ats\.iot\.eu-west-1\.amazonaws\.com"/);
});
