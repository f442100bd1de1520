// greengrass-image build's agent executable: a host whose node cannot become the guest's executable is refused in
// step 1 (before any AWS call) with exit 5 and a pointer to --agent-exe; a prebuilt or reused executable must be a
// Linux ELF of the guest's architecture; and the agent build's steps reach the user while it runs.
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, ExitCode } from '../../common/errors.ts';
import { AGENT_TARGET, agentSource, assertTargetExecutable } from '../../builder/src/agent-exe.ts';
import { resolveInputs } from '../../builder/src/commands/build/inputs.ts';
import { ca, cliEnv, seedClaim, startAwsStandin, startCli, tmp } from './helpers.ts';

const work = tmp('gg-agent-exe-test-');

/** A 64-bit little-endian ELF header (what the check reads) for e_machine `machine`, padded like a real file. */
function elfFile(name: string, machine: number): string {
  const head = Buffer.alloc(64);
  head.write('\x7fELF', 0, 'latin1');
  head[4] = 2; // ELFCLASS64
  head[5] = 1; // ELFDATA2LSB
  head[6] = 1; // EV_CURRENT
  head.writeUInt16LE(2, 16); // ET_EXEC
  head.writeUInt16LE(machine, 18);
  const path = join(work, name);
  writeFileSync(path, Buffer.concat([head, Buffer.alloc(4096)]), { mode: 0o755 });
  return path;
}

function refusal(t: Test, fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    t.ok(err instanceof CliError, `a CliError: ${(err as Error).message}`);
    return err as CliError;
  }
  t.fail('was not refused');
  return new CliError('', ExitCode.INTERNAL, '');
}

t.equal(`${AGENT_TARGET.platform}-${AGENT_TARGET.arch}`, 'linux-x64', 'the guest is linux-x64 (agent/target.json)');

for (const host of [
  { platform: 'darwin', arch: 'arm64' },
  { platform: 'darwin', arch: 'x64' },
  { platform: 'linux', arch: 'arm64' },
  { platform: 'win32', arch: 'x64' },
]) {
  t.test(`a ${host.platform}-${host.arch} host cannot build the agent: exit 5, --agent-exe suggested`, async (t) => {
    const err = refusal(t, () => agentSource(undefined, false, host));
    t.equal(err.exitCode, ExitCode.TOOL);
    t.equal(err.reason, 'agent-build-host');
    t.match(err.message, `this host is ${host.platform}-${host.arch}`);
    t.match(err.message, 'for the linux-x64 guest');
    t.match(err.message, '--agent-exe');
  });
}

t.test('the refusal is part of step 1: resolveInputs, before packer is looked for or AWS is called', async (t) => {
  const argv = {
    target: 'qemu',
    env: 'dev',
    outputDir: join(work, 'out'),
    packer: join(work, 'no-such-packer'), // were packer looked for, this would be a different error
  };
  const err = refusal(t, () => resolveInputs(argv, {}, { platform: 'darwin', arch: 'arm64' }));
  t.equal(err.reason, 'agent-build-host');
});

t.test('a linux-x64 host builds it (scripts/build.mjs)', async (t) => {
  const host = { platform: 'linux', arch: 'x64' };
  t.match(agentSource(undefined, false, host), { build: true, via: 'scripts/build.mjs' });
});

t.test('--agent-exe: any host, but only a Linux x86-64 ELF', async (t) => {
  const mac = { platform: 'darwin', arch: 'arm64' };
  const x64 = elfFile('x64', 62);
  t.match(agentSource(x64, false, mac), { exe: x64, build: false, via: '--agent-exe' }, 'prebuilt: no build');
  for (const [name, path] of [
    ['an AArch64 ELF', elfFile('aarch64', 183)],
    ['a shell script', join(work, 'script.sh')],
  ] as const) {
    if (name === 'a shell script') writeFileSync(path, '#!/bin/sh\necho 0.1.0\n', { mode: 0o755 });
    const err = refusal(t, () => agentSource(path, false, mac));
    t.equal(err.exitCode, ExitCode.CONFIG, name);
    t.equal(err.reason, 'agent-exe-invalid', name);
    t.match(err.message, `--agent-exe ${path} is not a Linux x86-64 executable (the image is linux-x64)`, name);
  }
  t.equal(refusal(t, () => agentSource(join(work, 'missing'), false, mac)).reason, 'file-missing');
});

t.test('an arm64 target would take an AArch64 ELF and refuse an x86-64 one', async (t) => {
  const arm64 = { platform: 'linux', arch: 'arm64' };
  t.doesNotThrow(() => assertTargetExecutable(elfFile('a64', 183), 'x', arm64));
  t.match(refusal(t, () => assertTargetExecutable(elfFile('x', 62), 'x', arm64)).message, 'not a Linux AArch64');
});

t.test('build: the agent build is shown step by step while it runs, then the build goes on', async (t) => {
  const s = await startAwsStandin({
    ca,
    endpoints: { region: 'eu-west-1', iotDataEndpoint: '10.0.2.2', iotCredEndpoint: '10.0.2.2' },
  });
  t.teardown(() => s.close());
  await seedClaim(s, 'dev');
  const dir = tmp('gg-agent-exe-build-');
  const nucleus = join(dir, 'nucleus.zip');
  writeFileSync(nucleus, 'not the pinned nucleus');
  // A wrong nucleus checksum ends the build in step 5, right after the agent.
  const args = ['build', '--target', 'qemu', '--env', 'dev', '--output-dir', join(dir, 'out')];
  args.push('--cache-dir', join(dir, 'cache'), '--nucleus-source', nucleus, '--nucleus-sha256', '0'.repeat(64));
  const run = startCli(args, cliEnv(s, { TMPDIR: dir, AWS_EC2_METADATA_DISABLED: 'true' }));
  const arrived: Array<{ at: number; line: string }> = [];
  let partial = '';
  run.child.stderr!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) arrived.push({ at: Date.now(), line });
  });
  const r = await run.done;
  t.equal(r.code, ExitCode.INTEGRITY, 'went on to step 5 and stopped at the nucleus checksum');
  const at = (re: RegExp) => arrived.findIndex((a) => re.test(a.line));
  const order = [
    /\[4\/\d+\] agent executable/,
    /building the agent executable \(node scripts\/build\.mjs\)/,
    / {2}agent: bundling agent\/src\/main\.ts with esbuild/,
    / {2}agent: bundled \(\d+ KiB\) in [\d.]+ s/,
    / {2}agent: .*(is up to date|made .* in [\d.]+ s)/,
    / {2}agent: .*greengrass-firstboot 0\.1\.0 \(node\d+-linux-x64, [\d.]+ MiB\) ready in [\d.]+ s/,
    /\[5\/\d+\] nucleus/,
  ].map(at);
  const inOrder = order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1]!));
  t.ok(inOrder, `the agent build's steps between [4/10] and [5/10], in order (lines ${order.join(', ')})`);
  if (!inOrder) t.comment(r.stderr);
  const bundling = arrived[order[2]!]!.at;
  const ready = arrived[order[5]!]!.at;
  t.ok(ready - bundling >= 300, `the first step was shown as it began, ${ready - bundling} ms before the end`);
});
