// Numbers for the installer STAND-IN: build (cold / cached), installer exit time, and time from
// installer start to system.thingName in config.tlog, for N devices installed one after another in
// test mode (GG_STANDIN_SYSTEMD_DIR) against a provisioning STAND-IN. Prints one JSON line.
//   tsx standins/installer/measure.ts [--devices 5]
import { parseArgs } from 'node:util';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  buildInstallerStandin,
  installerSourceHash,
  REPO_ROOT,
  stopStandinNucleus,
} from '../../harness/standin-installer.ts';
import { createCa, issueCertificate } from '../pki.ts';
import { startProvisioningStandin } from '../provisioning/server.ts';
import {
  dumpInstallerConfig,
  fillTemplateParameters,
  parseInstallerConfig,
  renderInstallerConfig,
} from '../../common/installer-config.ts';
import { ExitCode } from '../../common/errors.ts';

const run = promisify(execFile);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { devices: { type: 'string', default: '5' } }, strict: true });
  const n = Number(values.devices);
  if (!(Number.isInteger(n) && n > 0)) {
    process.stderr.write('measure: --devices must be a positive integer\n');
    process.exit(ExitCode.USAGE);
  }
  const cacheDir = join(REPO_ROOT, '.cache', 'standin-installer', installerSourceHash());
  const wasCached = existsSync(join(cacheDir, '.complete'));
  let t = Date.now();
  const jars = await buildInstallerStandin();
  const buildSeconds = (Date.now() - t) / 1000;

  const ca = createCa();
  const claim = issueCertificate(ca, { commonName: 'measure claim' });
  const standin = await startProvisioningStandin({ ca, templateName: 'MeasureTemplate' });
  const exitS: number[] = [];
  const provisionedS: number[] = [];
  const base = mkdtempSync(join(tmpdir(), 'gg-measure-'));
  try {
    for (let i = 0; i < n; i++) {
      const dir = join(base, `d${i}`);
      const root = join(dir, 'gg');
      mkdirSync(join(root, 'claim-certs'), { recursive: true });
      writeFileSync(join(root, 'claim-certs', 'claim.pem.crt'), claim.certificatePem);
      writeFileSync(join(root, 'claim-certs', 'claim.key'), claim.privateKeyPem, { mode: 0o600 });
      writeFileSync(join(root, 'ca.pem'), ca.certificatePem);
      const text = renderInstallerConfig({
        nucleusVersion: '2.16.0',
        rootPath: root,
        awsRegion: 'eu-west-1',
        iotDataEndpoint: '127.0.0.1',
        iotCredentialEndpoint: 'creds.local',
        iotRoleAlias: 'alias',
        provisioningTemplate: 'MeasureTemplate',
        claimCertificatePath: join(root, 'claim-certs', 'claim.pem.crt'),
        claimCertificatePrivateKeyPath: join(root, 'claim-certs', 'claim.key'),
        rootCaPath: join(root, 'ca.pem'),
        mqttPort: standin.port,
      });
      writeFileSync(
        join(dir, 'config.yaml'),
        dumpInstallerConfig(fillTemplateParameters(parseInstallerConfig(text), { thingName: `measure-${i}` })),
        { mode: 0o600 },
      );
      t = Date.now();
      await run(
        'java',
        [
          `-Droot=${root}`,
          '-Dlog.store=FILE',
          '-jar',
          jars.installerJar,
          '--trusted-plugin',
          jars.pluginJar,
          '--init-config',
          join(dir, 'config.yaml'),
          '--setup-system-service',
          'true',
        ],
        {
          env: { ...process.env, GG_STANDIN_SYSTEMD_DIR: join(dir, 'systemd') },
        },
      );
      exitS.push((Date.now() - t) / 1000);
      const tlog = join(root, 'config', 'config.tlog');
      const deadline = Date.now() + 120_000;
      while (!readFileSync(tlog, 'utf8').includes('"TP":["system","thingName"]')) {
        if (Date.now() > deadline) throw new Error(`device ${i} not provisioned within 120 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
      provisionedS.push((Date.now() - t) / 1000);
      await stopStandinNucleus(root);
    }
  } finally {
    await standin.stop();
    rmSync(base, { recursive: true, force: true });
  }
  const r = (x: number) => Number(x.toFixed(2));
  process.stdout.write(
    `${JSON.stringify({
      devices: n,
      build: { cached: wasCached, seconds: r(buildSeconds) },
      installerExitSeconds: { median: r(median(exitS)), max: r(Math.max(...exitS)) },
      installToProvisionedSeconds: { median: r(median(provisionedS)), max: r(Math.max(...provisionedS)) },
      registrations: standin.registrations.length,
      takeovers: standin.takeovers.length,
    })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`measure: ${(err as Error).message}\n`);
  process.exit(ExitCode.INTERNAL);
});
