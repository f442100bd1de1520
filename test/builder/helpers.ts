// Shared by the builder tests: the AWS wire STAND-IN started in-process, and the real CLI (the bundle the package
// ships, harness/builder-bundle.ts) run as a child process pointed at it through AWS_ENDPOINT_URL.
import { builderCommand } from '../../harness/builder-bundle.ts';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingGroupCommand,
  DeleteCertificateCommand,
  DetachPolicyCommand,
  IoTClient,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { join } from 'node:path';
import { createCa, issueCertificate, type KeyPair } from '../../standins/pki.ts';
import { startAwsStandin, type AwsStandin } from '../../standins/aws/server.ts';
import { REPO_ROOT } from '../../common/repo-root.ts';
import { tmp } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

export const REPO = REPO_ROOT;

export const ca: KeyPair = createCa();
export { issueCertificate, startAwsStandin, tmp, waitFor, type AwsStandin };

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function cliEnv(s: AwsStandin, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
  return {
    ...env,
    AWS_ENDPOINT_URL: s.url,
    AWS_ACCESS_KEY_ID: 'AKIDSTANDINTEST',
    AWS_SECRET_ACCESS_KEY: 'stand-in-secret-key',
    AWS_REGION: 'eu-west-1',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    ...extra,
  };
}

export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd = REPO,
): { child: ChildProcess; done: Promise<CliRun>; stderrSoFar(): string } {
  const [command, argv] = builderCommand(args);
  const child = spawn(command, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((res) =>
    child.once('close', (code, signal) => res({ code, signal, stdout, stderr })),
  );
  return { child, done, stderrSoFar: () => stderr };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, cwd = REPO): Promise<CliRun> {
  return startCli(args, env, cwd).done;
}

/** Staging dirs (greengrass-image-*) left in a TMPDIR. */
export function leftoverStages(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('greengrass-image-'));
}

/** A jar with the FleetProvisioningByClaim layout (manifest GG-Plugin-Class + that class file), built with `zip`. */
export function makePluginJar(dir: string, opts: { pluginClass?: string | null; classFile?: boolean } = {}): string {
  const root = mkdtempSync(join(dir, 'plugin-jar-'));
  const cls = opts.pluginClass === undefined ? 'com.aws.greengrass.FleetProvisioningByClaimPlugin' : opts.pluginClass;
  mkdirSync(join(root, 'META-INF'));
  writeFileSync(
    join(root, 'META-INF', 'MANIFEST.MF'),
    `Manifest-Version: 1.0\r\n${cls ? `GG-Plugin-Class: ${cls}\r\n` : ''}\r\n`,
  );
  if (opts.classFile !== false) {
    mkdirSync(join(root, 'com', 'aws', 'greengrass'), { recursive: true });
    writeFileSync(
      join(root, 'com', 'aws', 'greengrass', 'FleetProvisioningByClaimPlugin.class'),
      Buffer.concat([Buffer.from('cafebabe00000037', 'hex'), Buffer.from('stand-in class')]),
    );
  }
  const jar = `${root}.jar`;
  execFileSync('zip', ['-q', '-r', jar, '.'], { cwd: root });
  return jar;
}

/** What `build` bakes besides the claim, as local stand-ins with their pins: the flags that name them. */
export interface BuildArtifactFlags {
  'nucleus-source': string;
  'nucleus-sha256': string;
  'plugin-source': string;
  'plugin-sha256': string;
  'root-ca': string;
}

/** A zip with lib/Greengrass.jar (the nucleus layout), a plugin jar and the stand-in CA as the root CA. */
export function buildArtifacts(dir: string): BuildArtifactFlags {
  const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
  const nucleusZip = join(dir, 'greengrass-2.16.0-standin.zip');
  mkdirSync(join(dir, 'nz', 'lib'), { recursive: true });
  writeFileSync(join(dir, 'nz', 'lib', 'Greengrass.jar'), 'stand-in nucleus jar');
  execFileSync('zip', ['-q', '-r', nucleusZip, 'lib'], { cwd: join(dir, 'nz') });
  const pluginJar = makePluginJar(dir);
  const rootCa = join(dir, 'root-ca.pem');
  writeFileSync(rootCa, ca.certificatePem);
  return {
    'nucleus-source': nucleusZip,
    'nucleus-sha256': sha(nucleusZip),
    'plugin-source': pluginJar,
    'plugin-sha256': sha(pluginJar),
    'root-ca': rootCa,
  };
}

export interface SeededClaim {
  secretName: string;
  certificateId: string;
  certificateArn: string;
  certificatePem: string;
  privateKeyPem: string;
}

/**
 * A claim in the AWS stand-in as `claim create` leaves it: an ACTIVE certificate (CreateKeysAndCertificate) with a
 * policy attached, the thing groups, and the secret <prefix>/<env>/claims-certificate. `policy: false` attaches
 * none; `status` sets the certificate's status; `deleted` deletes the certificate after storing the secret.
 */
export async function seedClaim(
  s: AwsStandin,
  env: string,
  opts: { policy?: boolean; status?: 'INACTIVE' | 'REVOKED'; deleted?: boolean; groups?: string[] } = {},
): Promise<SeededClaim> {
  const cfg = { endpoint: s.url, region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } };
  const iot = new IoTClient(cfg);
  const c = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const claim: SeededClaim = {
    secretName: `greengrass/${env}/claims-certificate`,
    certificateId: c.certificateId!,
    certificateArn: c.certificateArn!,
    certificatePem: c.certificatePem!,
    privateKeyPem: c.keyPair!.PrivateKey!,
  };
  if (opts.policy !== false) {
    const policyName = 'GreengrassClaimPolicy';
    await iot
      .send(
        new CreatePolicyCommand({
          policyName,
          policyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }],
          }),
        }),
      )
      .catch(() => undefined);
    await iot.send(new AttachPolicyCommand({ policyName, target: claim.certificateArn }));
  }
  for (const g of opts.groups ?? ['GreengrassGoldenImageCores'])
    await iot.send(new CreateThingGroupCommand({ thingGroupName: g })).catch(() => undefined);
  await new SecretsManagerClient(cfg).send(
    new CreateSecretCommand({
      Name: claim.secretName,
      SecretString: JSON.stringify({
        certificatePem: claim.certificatePem,
        privateKey: claim.privateKeyPem,
        certificateArn: claim.certificateArn,
        certificateId: claim.certificateId,
      }),
    }),
  );
  if (opts.status || opts.deleted)
    await iot.send(
      new UpdateCertificateCommand({ certificateId: claim.certificateId, newStatus: opts.status ?? 'INACTIVE' }),
    );
  if (opts.deleted) {
    if (opts.policy !== false)
      await iot.send(new DetachPolicyCommand({ policyName: 'GreengrassClaimPolicy', target: claim.certificateArn }));
    await iot.send(new DeleteCertificateCommand({ certificateId: claim.certificateId }));
  }
  return claim;
}
