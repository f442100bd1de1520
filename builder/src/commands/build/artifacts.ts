// build, steps 4-5: what the image carries besides the claim and the config. The agent executable (built or
// given, and run once to learn its version), the nucleus zip and plugin jar (downloaded or local, SHA-256
// pinned, checked for their layout), and the device's root CA file (Amazon Root CA 1, plus an HTTPS proxy's CA).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { writeFileAtomic } from '../../../../common/atomic-write.ts';
import { ConfigError, ToolError, TransientError } from '../../../../common/errors.ts';
import { parseCertificate } from '../../../../common/pem.ts';
import { assertTargetExecutable } from '../../agent-exe.ts';
import { fetchArtifact, type Artifact } from '../../artifacts.ts';
import { assertPluginJar } from '../../bake-checks.ts';
import type { Context } from '../../context.ts';
import { REPO_ROOT } from '../../packer.ts';
import { httpGet } from '../../proxy.ts';
import { fileOrFail } from '../../settings.ts';
import type { BuildInputs } from './inputs.ts';

export const AMAZON_ROOT_CA1_URL = 'https://www.amazontrust.com/repository/AmazonRootCA1.pem';

export interface RootCa {
  pem: string;
  origin: string;
}

export interface BuildArtifacts {
  agent: { exe: string; version: string };
  nucleus: Artifact;
  plugin: Artifact;
  rootCa: RootCa;
}

/**
 * Runs scripts/build.mjs, each line of its output shown as it comes (its steps, with their durations): making the
 * executable takes a while and a silent build looks hung.
 */
async function runAgentBuild(progress: (m: string) => void): Promise<void> {
  progress('building the agent executable (node scripts/build.mjs)');
  const child = spawn(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs')], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on('line', (line) => line.trim() && progress(`  ${line}`));
  const exit = await new Promise<string | number>((done) => {
    child.once('error', (err) => done(err.message));
    child.once('close', (code, signal) => done(code ?? signal ?? 'unknown'));
  });
  if (exit !== 0)
    throw new ToolError(`agent build failed (node scripts/build.mjs exit ${exit}, see above)`, 'agent-build-failed');
}

function agentVersion(exe: string): string {
  const r = spawnSync(exe, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  const v = (r.stdout ?? '').trim();
  if (r.error || r.status !== 0 || !v)
    throw new ToolError(
      `the agent executable ${exe} does not run (--version: exit ${r.status ?? r.error?.message})`,
      'agent-broken',
    );
  return v;
}

/** The agent executable the image gets, and its version (which goes into the manifest). */
export async function agentExecutable(inputs: BuildInputs, ctx: Context): Promise<{ exe: string; version: string }> {
  const { agent } = inputs;
  if (agent.build) {
    await runAgentBuild(ctx.progress);
    if (!existsSync(agent.exe)) throw new ToolError(`${agent.exe} was not built`, 'agent-build-failed');
    assertTargetExecutable(agent.exe, 'the agent build made');
  } else ctx.progress(`using ${agent.exe} (${agent.via})`);
  return { exe: agent.exe, version: agentVersion(agent.exe) };
}

/** Amazon Root CA 1, downloaded once into the cache and checked to be that certificate. */
async function amazonRootCa(cacheDir: string, progress: (m: string) => void): Promise<string> {
  const cached = join(cacheDir, 'AmazonRootCA1.pem');
  let pem: string;
  if (existsSync(cached)) pem = readFileSync(cached, 'utf8');
  else {
    progress(`downloading ${AMAZON_ROOT_CA1_URL}`);
    let res: { status: number; body: Buffer };
    try {
      res = await httpGet(AMAZON_ROOT_CA1_URL);
    } catch (err) {
      throw new TransientError(
        `cannot download ${AMAZON_ROOT_CA1_URL} (${(err as Error).message}); pass --root-ca PATH`,
        'download-failed',
        { cause: err },
      );
    }
    if (res.status !== 200)
      throw new TransientError(
        `download ${AMAZON_ROOT_CA1_URL} failed: HTTP ${res.status}; pass --root-ca PATH`,
        'download-failed',
      );
    pem = res.body.toString('utf8');
  }
  const cert = parseCertificate(pem, 'AmazonRootCA1.pem');
  if (!/CN=Amazon Root CA 1/.test(cert.subject))
    throw new ConfigError(`${AMAZON_ROOT_CA1_URL} is not Amazon Root CA 1 (${cert.subject})`, 'root-ca-invalid');
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  writeFileAtomic(cached, pem, 0o644);
  return pem;
}

/** --root-ca, else Amazon Root CA 1; with --proxy-ca that CA appended (the Greengrass guide's HTTPS proxy setup). */
async function rootCa(inputs: BuildInputs, progress: (m: string) => void): Promise<RootCa> {
  const origin = inputs.rootCa ? fileOrFail(inputs.rootCa, '--root-ca') : AMAZON_ROOT_CA1_URL;
  const pem = inputs.rootCa ? readFileSync(origin, 'utf8') : await amazonRootCa(inputs.cacheDir, progress);
  const cert = parseCertificate(pem, `root CA ${origin}`);
  if (!cert.ca) throw new ConfigError(`root CA ${origin} is not a CA certificate`, 'root-ca-invalid');
  if (!inputs.proxyCa) return { pem, origin };
  return {
    pem: `${pem.replace(/\n*$/, '\n')}${inputs.proxyCa.replace(/\n*$/, '\n')}`,
    origin: `${origin} + --proxy-ca`,
  };
}

function assertNucleusZip(path: string): void {
  const buf = readFileSync(path);
  if (buf.subarray(0, 4).toString('binary') !== 'PK\u0003\u0004' || !buf.includes('lib/Greengrass.jar')) {
    throw new ConfigError(`nucleus ${path} is not a Greengrass nucleus zip (no lib/Greengrass.jar)`, 'nucleus-invalid');
  }
}

/** Nucleus, plugin (pinned SHA-256, layout checked) and the root CA file. */
export async function greengrassArtifacts(inputs: BuildInputs, ctx: Context): Promise<Omit<BuildArtifacts, 'agent'>> {
  const { cacheDir } = inputs;
  const nucleus = await fetchArtifact(
    {
      kind: 'nucleus',
      version: inputs.nucleusVersion,
      source: inputs.nucleusSource,
      sha256: inputs.nucleusSha256,
      cacheDir,
    },
    ctx.progress,
  );
  assertNucleusZip(nucleus.path);
  const plugin = await fetchArtifact(
    {
      kind: 'plugin',
      version: inputs.pluginVersion,
      source: inputs.pluginSource,
      sha256: inputs.pluginSha256,
      cacheDir,
    },
    ctx.progress,
  );
  assertPluginJar(plugin.path);
  return { nucleus, plugin, rootCa: await rootCa(inputs, ctx.progress) };
}
