// Where `build` takes the first-boot agent executable from, decided before any AWS call:
// --agent-exe (prebuilt), or dist/greengrass-firstboot, reused with --skip-agent-build or made by scripts/build.mjs.
// Whichever it is must be a Linux ELF executable of the guest's architecture (agent/target.json, the one place
// that names the target). Only a source checkout can make it (the script and its toolchain are dev dependencies,
// not in the npm package), and only on a host of the target's platform and architecture: pkg puts the build
// host's own node binary into the executable (docs/agent.md, "How it is built").
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, ToolError } from '../../common/errors.ts';
import agentTarget from '../../agent/target.json' with { type: 'json' };
import { REPO_ROOT } from './packer.ts';

export const BUILT_AGENT = join(REPO_ROOT, 'dist', 'greengrass-firstboot');
const AGENT_BUILD_SCRIPT = join(REPO_ROOT, 'scripts', 'build.mjs');

/** A platform and CPU architecture in Node's words (process.platform, process.arch). */
export interface Platform {
  platform: string;
  arch: string;
}

/** The guest's: what the agent executable must run on. */
export const AGENT_TARGET: Platform = agentTarget;
/** This process's: the node that scripts/build.mjs copies into the executable. */
export const HOST: Platform = { platform: process.platform, arch: process.arch };

/** ELF e_machine of each architecture the image could be built for (the ELF psABI supplements), and its name. */
const ELF_MACHINE: Record<string, { machine: number; name: string }> = {
  x64: { machine: 62, name: 'x86-64' },
  arm64: { machine: 183, name: 'AArch64' },
};

export interface AgentSource {
  exe: string;
  /** Run scripts/build.mjs first. */
  build: boolean;
  /** The flag that chose it, for the progress line. */
  via: '--agent-exe' | '--skip-agent-build' | 'scripts/build.mjs';
}

const describe = (p: Platform) => `${p.platform}-${p.arch}`;

/** e_machine of a 64-bit little-endian ELF file (the header's first 20 bytes), undefined for anything else. */
function elfMachine(path: string): number | undefined {
  const head = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, head, 0, head.length, 0) < head.length) return undefined;
  } finally {
    closeSync(fd);
  }
  const elf64le = head.subarray(0, 4).equals(Buffer.from('\x7fELF', 'latin1')) && head[4] === 2 && head[5] === 1;
  return elf64le ? head.readUInt16LE(18) : undefined;
}

/** Refuses (exit 3, agent-exe-invalid) a file that is not a Linux executable for the target architecture. */
export function assertTargetExecutable(exe: string, what: string, target: Platform = AGENT_TARGET): void {
  const want = ELF_MACHINE[target.arch];
  if (target.platform !== 'linux' || !want)
    throw new ConfigError(`agent target ${describe(target)} is not supported`, 'agent-target-unsupported');
  if (elfMachine(exe) !== want.machine)
    throw new ConfigError(
      `${what} ${exe} is not a Linux ${want.name} executable (the image is ${describe(target)})`,
      'agent-exe-invalid',
    );
}

/**
 * Refuses (exit 5, agent-build-host) a host whose node cannot become the target's executable: pkg copies the local
 * node binary, so a macOS or arm64 build host would bake an executable the guest cannot run.
 */
export function assertCanBuildAgent(host: Platform = HOST, target: Platform = AGENT_TARGET): void {
  if (host.platform === target.platform && host.arch === target.arch) return;
  throw new ToolError(
    `this host is ${describe(host)}: its node cannot make the agent executable for the ${describe(target)} guest ` +
      `(scripts/build.mjs puts the build host's own node into it). Run \`npm run build\` in a checkout on a ` +
      `${describe(target)} host and pass --agent-exe <that checkout>/dist/greengrass-firstboot`,
    'agent-build-host',
  );
}

export function agentSource(agentExe: string | undefined, skipBuild: boolean | undefined, host = HOST): AgentSource {
  if (agentExe !== undefined) {
    const exe = resolve(agentExe);
    if (!existsSync(exe) || !statSync(exe).isFile())
      throw new ConfigError(`--agent-exe ${exe} does not exist`, 'file-missing');
    assertTargetExecutable(exe, '--agent-exe');
    return { exe, build: false, via: '--agent-exe' };
  }
  if (skipBuild && existsSync(BUILT_AGENT)) {
    assertTargetExecutable(BUILT_AGENT, '--skip-agent-build:');
    return { exe: BUILT_AGENT, build: false, via: '--skip-agent-build' };
  }
  assertCanBuildAgent(host);
  if (!existsSync(AGENT_BUILD_SCRIPT)) {
    throw new ToolError(
      'this installed greengrass-image cannot build the agent (scripts/build.mjs and its toolchain come with the source ' +
        'checkout only): run `npm run build` in a checkout and pass --agent-exe <checkout>/dist/greengrass-firstboot',
      'agent-build-unavailable',
    );
  }
  return { exe: BUILT_AGENT, build: true, via: 'scripts/build.mjs' };
}
