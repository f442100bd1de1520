// Where `build` takes the first-boot agent executable from, decided before any AWS call:
// --agent-exe (prebuilt, checked to be a Linux x86-64 ELF like the amd64 guest), or dist/greengrass-firstboot,
// reused with --skip-agent-build or made by scripts/build.mjs. Only a source checkout can make it (the script and
// its toolchain are dev dependencies, not in the npm package), so an installed builder needs --agent-exe.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, ToolError } from '../../common/errors.ts';
import { REPO_ROOT } from './packer.ts';

export const BUILT_AGENT = join(REPO_ROOT, 'dist', 'greengrass-firstboot');
const AGENT_BUILD_SCRIPT = join(REPO_ROOT, 'scripts', 'build.mjs');
const EM_X86_64 = 62;

export interface AgentSource {
  exe: string;
  /** Run scripts/build.mjs first. */
  build: boolean;
  /** The flag that chose it, for the progress line. */
  via: '--agent-exe' | '--skip-agent-build' | 'scripts/build.mjs';
}

/** ELF magic, 64-bit class, little-endian, e_machine x86-64 (the ELF header's first 20 bytes). */
function isLinuxX64Elf(path: string): boolean {
  const head = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, head, 0, head.length, 0) < head.length) return false;
  } finally {
    closeSync(fd);
  }
  return (
    head.subarray(0, 4).equals(Buffer.from('\x7fELF', 'latin1')) &&
    head[4] === 2 &&
    head[5] === 1 &&
    head.readUInt16LE(18) === EM_X86_64
  );
}

export function agentSource(agentExe: string | undefined, skipBuild: boolean | undefined): AgentSource {
  if (agentExe !== undefined) {
    const exe = resolve(agentExe);
    if (!existsSync(exe) || !statSync(exe).isFile())
      throw new ConfigError(`--agent-exe ${exe} does not exist`, 'file-missing');
    if (!isLinuxX64Elf(exe))
      throw new ConfigError(
        `--agent-exe ${exe} is not a Linux x86-64 executable (the image is amd64)`,
        'agent-exe-invalid',
      );
    return { exe, build: false, via: '--agent-exe' };
  }
  if (skipBuild && existsSync(BUILT_AGENT)) return { exe: BUILT_AGENT, build: false, via: '--skip-agent-build' };
  if (!existsSync(AGENT_BUILD_SCRIPT)) {
    throw new ToolError(
      'this installed greengrass-image cannot build the agent (scripts/build.mjs and its toolchain come with the source ' +
        'checkout only): run `npm run build` in a checkout and pass --agent-exe <checkout>/dist/greengrass-firstboot',
      'agent-build-unavailable',
    );
  }
  return { exe: BUILT_AGENT, build: true, via: 'scripts/build.mjs' };
}
