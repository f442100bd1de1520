// build, steps 7 and 9: what the image is made of. `build-info.json` goes into the image; the manifest
// (build info plus every input's SHA-256 and origin, and Packer's own manifest) goes next to the image.
import type { BuiltOva } from '../../ova/build-step.ts';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../../common/atomic-write.ts';
import { fleetConfig, parseInstallerConfig } from '../../../../common/installer-config.ts';
import { sha256File } from '../../artifacts.ts';
import type { CertificateInfo } from '../../../../common/pem.ts';
import type { ClaimSecret } from '../../claim-secret.ts';
import type { Context } from '../../context.ts';
import type { BuildArtifacts } from './artifacts.ts';
import type { BuildInputs } from './inputs.ts';

export const MANIFEST_NAME = 'greengrass-image-manifest.json';

export interface BuildInfo {
  /** The image's name (Packer's vm_name), so that a clone can tell which image it came from. */
  imageName: string;
  builtAt: string;
  target: string;
  nucleusVersion: string;
  pluginVersion: string;
  agentVersion: string;
  packerVersion: string;
  claimCertificateId: string;
}

export function buildInfo(inputs: BuildInputs, artifacts: BuildArtifacts, claim: ClaimSecret): BuildInfo {
  return {
    imageName: inputs.imageName,
    builtAt: new Date().toISOString(),
    target: inputs.target,
    nucleusVersion: inputs.nucleusVersion,
    pluginVersion: inputs.pluginVersion,
    agentVersion: artifacts.agent.version,
    packerVersion: inputs.packer.version,
    claimCertificateId: claim.certificateId,
  };
}

export interface ManifestParts {
  info: BuildInfo;
  inputs: BuildInputs;
  artifacts: BuildArtifacts;
  claim: { secret: ClaimSecret; info: CertificateInfo };
  configText: string;
  provisioningTemplate: string;
  /** The OVA made from the image (--format ova). */
  ova?: BuiltOva;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Write the manifest into the output dir; returns its path and content. */
export async function writeManifest(
  m: ManifestParts,
  ctx: Context,
): Promise<{ path: string; manifest: Record<string, unknown> }> {
  const { inputs, artifacts, claim } = m;
  const { outDir } = inputs;
  // Packer made it under umask 077 (startPacker); whatever the builder plugin did, the image stays the owner's.
  if (existsSync(outDir)) chmodSync(outDir, 0o700);
  const packerManifestPath = join(outDir, 'packer-manifest.json');
  const packerManifest = existsSync(packerManifestPath)
    ? (JSON.parse(readFileSync(packerManifestPath, 'utf8')) as unknown)
    : null;
  if (!packerManifest) ctx.progress(`warning: Packer wrote no ${packerManifestPath}`);
  const manifest = {
    ...m.info,
    source: inputs.source,
    secretName: inputs.secretName,
    claim: {
      certificateId: claim.secret.certificateId,
      certificateArn: claim.secret.certificateArn,
      notAfter: claim.info.notAfter.toISOString(),
    },
    nucleus: { version: inputs.nucleusVersion, sha256: artifacts.nucleus.sha256, origin: artifacts.nucleus.origin },
    plugin: { version: inputs.pluginVersion, sha256: artifacts.plugin.sha256, origin: artifacts.plugin.origin },
    rootCa: { sha256: sha256(artifacts.rootCa.pem), origin: artifacts.rootCa.origin },
    agent: { version: artifacts.agent.version, sha256: await sha256File(artifacts.agent.exe) },
    installerConfig: {
      sha256: sha256(m.configText),
      provisioningTemplate: m.provisioningTemplate,
      templateParameters: fleetConfig(parseInstallerConfig(m.configText)).templateParameters,
    },
    outputDirectory: outDir,
    ...(m.ova ? { ova: m.ova } : {}),
    packerManifest,
  };
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, MANIFEST_NAME);
  writeFileAtomic(path, `${JSON.stringify(manifest, null, 2)}\n`, 0o644);
  return { path, manifest };
}
