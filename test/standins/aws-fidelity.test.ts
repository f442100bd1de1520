// The AWS wire STAND-IN where it once parted from the AWS API reference (found by the moto comparison or listed in
// issue 17), driven by the real @aws-sdk v3 clients. Sources: docs/facts/aws-wire.md.
import t from 'tap';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createCa } from '../../standins/pki.ts';
import { startAwsStandin, type AwsStandin } from '../../standins/aws/server.ts';

const ca = createCa();
const credentials = { accessKeyId: 'AKIDFIDELITY', secretAccessKey: 'fidelity' };

let s: AwsStandin;
t.beforeEach(async () => {
  s = await startAwsStandin({ ca, endpoints: { region: 'eu-west-1' } });
});
t.afterEach(() => s.close());

t.test('CreateSecret: the ARN ends in the name, a hyphen and six random alphanumeric characters', async (t) => {
  const sm = new SecretsManagerClient({ endpoint: s.url, region: 'eu-west-1', credentials });
  const arns = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const out = await sm.send(new CreateSecretCommand({ Name: `gg/claim-${i}`, SecretString: 'x' }));
    t.match(out.ARN, new RegExp(`^arn:aws:secretsmanager:eu-west-1:123456789012:secret:gg/claim-${i}-[A-Za-z0-9]{6}$`));
    arns.add(out.ARN!.slice(-6));
  }
  t.ok(arns.size > 15, 'the suffixes are random');
  sm.destroy();
});
