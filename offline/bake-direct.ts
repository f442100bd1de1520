// WORKAROUND, not the product path: bakes the qemu image by following the builder ↔ Packer staging contract
// (docs/architecture.md, packer/) directly, for when `greengrass-image build` (bin/greengrass-image.js) is not
// available yet. Used only with `npm run pipeline -- --bake-direct`. The claim certificate is issued straight
// from the stand-in CA instead of coming from `claim create` + the Secrets Manager stand-in.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderInstallerConfig, DEFAULT_PATHS, THING_NAME_PLACEHOLDER } from '../common/installer-config.ts';
import { ToolError } from '../common/errors.ts';
import { issueCertificate, loadOrCreateCa } from '../standins/pki.ts';
import { REPO_ROOT } from './base-image.ts';
import { run, type Progress } from './proc.ts';

export interface DirectBakeInput {
  runDir: string;
  caDir: string;
  nucleusZip: string;
  pluginJar: string;
  rootCa: string;
  mqttPort: number;
  templateName: string;
  varFile: string;
  outputDir: string;
  logFile: string;
  progress: Progress;
}

export async function bakeDirect(i: DirectBakeInput): Promise<void> {
  const stage = mkdtempSync(join(i.runDir, 'stage-'));
  chmodSync(stage, 0o700);
  const files = join(stage, 'files');
  mkdirSync(files, { mode: 0o700 });
  try {
    const ca = loadOrCreateCa(i.caDir);
    const claim = issueCertificate(ca, { commonName: 'offline-pipeline-claim', days: 30 });
    const certId = createHash('sha256').update(claim.certificatePem).digest('hex');
    copyFileSync(i.nucleusZip, join(files, 'greengrass-nucleus.zip'));
    copyFileSync(i.pluginJar, join(files, 'fleetprovisioningbyclaim.jar'));
    writeFileSync(
      join(files, 'config.yaml'),
      renderInstallerConfig({
        nucleusVersion: '2.16.0',
        rootPath: DEFAULT_PATHS.rootPath,
        awsRegion: 'us-east-1',
        iotDataEndpoint: '10.0.2.2',
        iotCredentialEndpoint: '10.0.2.2',
        iotRoleAlias: 'GreengrassCoreTokenExchangeRoleAlias',
        provisioningTemplate: i.templateName,
        claimCertificatePath: DEFAULT_PATHS.claimCertificatePath,
        claimCertificatePrivateKeyPath: DEFAULT_PATHS.claimCertificatePrivateKeyPath,
        rootCaPath: DEFAULT_PATHS.rootCaPath,
        templateParameters: { ThingName: THING_NAME_PLACEHOLDER },
        mqttPort: i.mqttPort,
      }),
      { mode: 0o600 },
    );
    writeFileSync(join(files, 'claim.pem.crt'), claim.certificatePem, { mode: 0o644 });
    writeFileSync(join(files, 'claim.private.pem.key'), claim.privateKeyPem, { mode: 0o600 });
    copyFileSync(i.rootCa, join(files, 'AmazonRootCA1.pem'));
    const agent = join(REPO_ROOT, 'dist', 'greengrass-firstboot');
    if (!existsSync(agent)) throw new ToolError('dist/greengrass-firstboot is missing (npm run build)', 'upstream-missing');
    copyFileSync(agent, join(files, 'greengrass-firstboot'));
    chmodSync(join(files, 'greengrass-firstboot'), 0o755);
    copyFileSync(join(REPO_ROOT, 'agent', 'agent.yaml'), join(files, 'agent.yaml'));
    copyFileSync(join(REPO_ROOT, 'systemd', 'greengrass-firstboot.service'), join(files, 'greengrass-firstboot.service'));
    writeFileSync(
      join(files, 'build-info.json'),
      JSON.stringify({ builtAt: new Date().toISOString(), nucleusVersion: '2.16.0 (stand-in)', claimCertificateId: certId, bakedBy: 'offline/bake-direct.ts (workaround)' }, null, 2) + '\n',
    );

    const pk = join(stage, 'packer');
    mkdirSync(pk);
    for (const f of readdirSync(join(REPO_ROOT, 'packer'))) {
      if (f.endsWith('.pkr.hcl') && f !== 'plugins.pkr.hcl') copyFileSync(join(REPO_ROOT, 'packer', f), join(pk, f));
    }
    cpSync(join(REPO_ROOT, 'packer', 'scripts'), join(pk, 'scripts'), { recursive: true });
    cpSync(join(REPO_ROOT, 'packer', 'http'), join(pk, 'http'), { recursive: true });
    i.progress(`bake (direct workaround): packer build -only=qemu.ubuntu in ${pk}`);
    await run(
      'packer',
      [
        'build', '-only=qemu.ubuntu', `-var`, `staging_dir=${files}`,
        `-var-file=${join(REPO_ROOT, 'packer', 'qemu.pkrvars.hcl')}`, `-var-file=${i.varFile}`,
        '-var', `output_directory=${i.outputDir}`, '.',
      ],
      { stage: 'bake', logFile: i.logFile, cwd: pk, progress: i.progress, timeoutMs: 60 * 60_000, heartbeatMs: 60_000, env: { ...process.env, PACKER_NO_COLOR: '1', CHECKPOINT_DISABLE: '1' } },
    );
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
