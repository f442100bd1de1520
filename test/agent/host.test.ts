// The host in `check` and `run`: what check reports (systeminformation for the hypervisor), the nucleus's documented
// minimums refused the same way by both (exit 3), and run's start-up without systeminformation.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { machine, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createDeviceRoot, type DeviceRoot, type DeviceRootOptions } from '../../harness/device-root.ts';
import {
  REPO,
  closedPort,
  ensureBuilt,
  logLines,
  runAgent,
  SYSTEM_PATH,
  tcpListener,
} from '../../harness/agent-exe.ts';
import { runOnSmallHost } from '../../harness/small-host.ts';
import type { CliError } from '../../common/errors.ts';
import { NUCLEUS_MINIMUMS, checkDisk, checkMemory, size } from '../../agent/src/host.ts';

ensureBuilt();
const MiB = 1024 * 1024;
const endpoint = await tcpListener();
t.teardown(() => endpoint.close());

function device(t: Test, opts: DeviceRootOptions = {}): DeviceRoot {
  const root = createDeviceRoot({ endpoint: { host: '127.0.0.1', port: endpoint.port }, ...opts });
  t.teardown(() => root.cleanup());
  return root;
}

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const line = (stdout: string, step: string): string =>
  stdout.split('\n').find((l) => new RegExp(`^(ok|FAIL)\\s+${step}\\s`).test(l)) ?? `(no ${step} line)`;

t.test(
  'check reports the host: hypervisor, CPUs, architecture, memory, free disk under the Greengrass root',
  async (t) => {
    const root = device(t);
    const r = await runAgent(root, ['check']);
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.match(line(r.stdout, 'host'), /^ok\s+host\s+(virtual machine \(.+\)|no hypervisor detected).*, \d+ × \S/);
    t.match(
      line(r.stdout, 'architecture'),
      new RegExp(`^ok\\s+architecture\\s+${machine()}; AWS tests the nucleus on x86_64, aarch64, armv7l$`),
    );
    t.match(line(r.stdout, 'memory'), `${size(totalmem())} total; the nucleus needs 96 MiB`);
    t.match(
      line(r.stdout, 'disk'),
      new RegExp(`^ok\\s+disk\\s+\\d.* free under ${root.ggRoot}; the nucleus needs 256 MiB$`),
    );
    const json = JSON.parse((await runAgent(root, ['check', '--json'])).stdout);
    t.match(
      json.steps.filter((s: { step: string }) => ['host', 'architecture', 'memory', 'disk'].includes(s.step)),
      [
        { step: 'host', ok: true },
        { step: 'architecture', ok: true },
        { step: 'memory', ok: true },
        { step: 'disk', ok: true },
      ],
    );
  },
);

t.test('a dmidecode that hangs costs check at most the host report bound, and the report says so', async (t) => {
  const root = device(t);
  const bin = tempDir(t, 'gg-slow-bin-');
  // systeminformation's system() runs `dmidecode -t system` through sh, found on PATH.
  writeFileSync(join(bin, 'dmidecode'), '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
  const r = await runAgent(root, ['check'], { PATH: `${bin}:${SYSTEM_PATH}` });
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(
    line(r.stdout, 'host'),
    /^ok\s+host\s+hypervisor unknown \(systeminformation: no answer within 5000 ms\), \d+ × /,
  );
  t.ok(r.ms < 20_000, `check ended after ${r.ms} ms, not after the 30 s dmidecode`);
});

t.test(
  'before the installer made the Greengrass root, the free disk is measured at its nearest existing parent',
  async (t) => {
    const parent = tempDir(t, 'gg-root-parent-');
    const rootPath = join(parent, 'not', 'yet', 'v2');
    const r = await runAgent(device(t, { settings: { rootPath } }), ['check']);
    t.match(
      line(r.stdout, 'disk'),
      `free under ${rootPath} (at ${parent}, its nearest existing parent); the nucleus needs 256 MiB`,
    );
    t.notOk(existsSync(join(parent, 'not')), 'check creates nothing');
  },
);

t.test('an architecture AWS does not test the nucleus on is reported, not refused (AWS: it might work)', async (t) => {
  const root = device(t);
  ensureBuilt();
  const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    // setarch linux32: uname -m says i686 for this process, the kernel's own answer.
    const child = spawn(
      'setarch',
      ['linux32', join(REPO, 'dist', 'greengrass-firstboot'), 'check', '--config', root.configPath],
      {
        env: { PATH: SYSTEM_PATH, HOME: root.dir, ...root.env },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code) => resolve({ code, stdout }));
  });
  t.equal(r.code, 0, r.stdout);
  t.match(
    line(r.stdout, 'architecture'),
    /^ok\s+architecture\s+i686 is not an architecture AWS tests the nucleus on \(x86_64, aarch64, armv7l\); it might work$/,
  );
});

t.test(
  'less memory than the nucleus needs: check and run refuse the host alike, exit 3, nothing rendered',
  async (t) => {
    const root = device(t, { agent: { preflight: { networkWaitSeconds: 0 } } });
    const check = await runOnSmallHost(root, ['check'], { memoryKiB: 64 * 1024 });
    t.equal(check.code, 3, check.stdout + check.stderr);
    t.match(
      line(check.stdout, 'memory'),
      /^FAIL\s+memory\s+this machine has 64 MiB of memory, below the 96 MiB the Greengrass nucleus needs \(AWS IoT Greengrass developer guide, Device requirements\): give the VM more memory$/,
    );
    const run = await runOnSmallHost(root, ['run', '--log-format', 'json'], { memoryKiB: 64 * 1024 });
    t.equal(run.code, 3, run.stderr);
    t.match(logLines(run.stderr).at(-1), { reason: 'host-memory-below-minimum', exitCode: 3, msg: /64 MiB of memory/ });
    t.match(JSON.parse(readFileSync(root.stateFile, 'utf8')).lastError, {
      reason: 'host-memory-below-minimum',
      exitCode: 3,
    });
    t.notOk(existsSync(root.renderedConfig), 'no installer config rendered, the installer never started');

    const enough = await runOnSmallHost(root, ['check'], { memoryKiB: 96 * 1024 });
    t.equal(enough.code, 0, `exactly 96 MiB is enough: ${enough.stdout}`);
    t.match(line(enough.stdout, 'memory'), /^ok\s+memory\s+96 MiB total/);
  },
);

t.test(
  'less free disk under the Greengrass root than the nucleus needs: check and run refuse alike, exit 3',
  async (t) => {
    const small = tempDir(t, 'gg-small-disk-');
    const rootPath = join(small, 'greengrass', 'v2');
    const root = device(t, { settings: { rootPath }, agent: { preflight: { networkWaitSeconds: 0 } } });
    const check = await runOnSmallHost(root, ['check'], { diskMiB: 200, diskAt: small });
    t.equal(check.code, 3, check.stdout + check.stderr);
    t.match(
      line(check.stdout, 'disk'),
      new RegExp(
        `^FAIL\\s+disk\\s+200 MiB free under the Greengrass root ${rootPath} \\(at ${small}, its nearest existing parent\\), below the 256 MiB the Greengrass nucleus needs`,
      ),
    );
    const run = await runOnSmallHost(root, ['run', '--log-format', 'json'], { diskMiB: 200, diskAt: small });
    t.equal(run.code, 3, run.stderr);
    t.match(logLines(run.stderr).at(-1), { reason: 'host-disk-below-minimum', exitCode: 3 });
    t.notOk(existsSync(root.renderedConfig), 'no installer config rendered, the installer never started');

    const enough = await runOnSmallHost(root, ['check'], { diskMiB: 300, diskAt: small });
    t.match(line(enough.stdout, 'disk'), /^ok\s+disk\s+300 MiB free under/);
    t.equal(enough.code, 0, enough.stdout);
  },
);

t.test('the minimums in one place, at the documented values, with the boundary accepted', async (t) => {
  t.equal(NUCLEUS_MINIMUMS.memoryBytes, 96 * MiB);
  t.equal(NUCLEUS_MINIMUMS.diskBytes, 256 * MiB);
  t.same(NUCLEUS_MINIMUMS.architectures, ['x86_64', 'aarch64', 'armv7l']);
  const refusal = (fn: () => unknown): string | null => {
    try {
      fn();
      return null;
    } catch (err) {
      return `${(err as CliError).reason} exit ${(err as CliError).exitCode}`;
    }
  };
  t.equal(
    refusal(() => checkMemory(96 * MiB)),
    null,
  );
  t.equal(
    refusal(() => checkMemory(96 * MiB - 1)),
    'host-memory-below-minimum exit 3',
  );
  const disk = (freeBytes: number) => ({ path: '/greengrass/v2', measured: '/greengrass/v2', freeBytes });
  t.equal(
    refusal(() => checkDisk(disk(256 * MiB))),
    null,
  );
  t.equal(
    refusal(() => checkDisk(disk(256 * MiB - 1))),
    'host-disk-below-minimum exit 3',
  );
});

/** The agent from source with every module the loader resolves written down. */
async function traced(t: Test, root: DeviceRoot, args: string[]): Promise<{ code: number | null; modules: string[] }> {
  const trace = join(tempDir(t, 'gg-trace-'), 'modules');
  writeFileSync(trace, '');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      join(REPO, 'harness', 'module-trace.mjs'),
      join(REPO, 'agent', 'src', 'main.ts'),
      ...args,
      '--config',
      root.configPath,
    ],
    {
      env: { ...process.env, ...root.env, MODULE_TRACE_FILE: trace },
      stdio: ['ignore', 'ignore', 'ignore'],
      cwd: REPO,
    },
  );
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, modules: readFileSync(trace, 'utf8').split('\n').filter(Boolean) };
}

t.test('run never loads systeminformation, neither at start-up nor in its host check; check does', async (t) => {
  // Run up to the endpoint (a closed port): past its host check, then exit 75.
  const root = device(t, {
    endpoint: { host: '127.0.0.1', port: await closedPort() },
    agent: { preflight: { networkWaitSeconds: 0 } },
  });
  const si = (m: string) => m.includes('/node_modules/systeminformation/');
  const run = await traced(t, root, ['run']);
  t.equal(run.code, 75, 'run got as far as the endpoint');
  t.ok(
    run.modules.some((m) => m.endsWith('/agent/src/host.ts')),
    'run loaded its host check',
  );
  t.notOk(run.modules.some(si), 'run did not load systeminformation');

  writeFileSync(root.sentinel, JSON.stringify({ thingName: 'gg-clone-0001' }));
  const done = await traced(t, root, ['run']);
  t.equal(done.code, 0, 'already provisioned');
  t.notOk(done.modules.some(si), 'nor on the path of every later boot');

  const check = await traced(t, root, ['check']);
  t.ok(check.modules.some(si), 'check loads systeminformation (the trace sees it)');
});
