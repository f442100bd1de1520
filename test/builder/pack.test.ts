// The builder as a platform team installs it: `npm pack` in the checkout, the tarball installed into an empty
// directory with production dependencies only (no tsx, no esbuild), and the installed `greengrass-image` run:
// --help, config render, validate --target vsphere (real Packer, Debian's 1.6.6), and build's agent step, which an
// installed package cannot build itself (it takes --agent-exe).
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { ExitCode } from '../../common/errors.ts';
import { ca, cliEnv, REPO, startAwsStandin, tmp, type AwsStandin, type CliRun } from './helpers.ts';

/** npm's own variables (tap may run under npx) would steer the child npm: leave them out. */
function cleanEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !/^npm_/i.test(k)));
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CliRun> {
  const child = spawn(cmd, args, { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((res) => child.once('close', (code, signal) => res({ code, signal, stdout, stderr })));
}

let s: AwsStandin;
let bin: string;
let installed: string;
let work: string;
const scratch: string[] = [];
const cli = (args: string[]) => run(bin, args, work, cliEnv(s));

t.before(async () => {
  s = await startAwsStandin({ ca });
  const packDir = tmp('gg-pack-');
  scratch.push(packDir);
  const packed = await run('npm', ['pack', '--pack-destination', packDir], REPO, process.env);
  if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
  const tarball = readdirSync(packDir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack left no tarball in ${packDir}: ${packed.stdout}`);
  const app = tmp('gg-install-');
  scratch.push(app);
  writeFileSync(join(app, 'package.json'), '{ "name": "platform-team", "private": true }\n');
  const inst = await run(
    'npm',
    ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', join(packDir, tarball)],
    app,
    process.env,
  );
  if (inst.code !== 0) throw new Error(`npm install of the tarball failed: ${inst.stderr}`);
  installed = join(app, 'node_modules', 'greengrass-golden-image');
  bin = join(app, 'node_modules', '.bin', 'greengrass-image');
  work = tmp('gg-installed-work-');
  scratch.push(work);
});
t.teardown(() => {
  s.close();
  for (const d of scratch) rmSync(d, { recursive: true, force: true }); // an install is tens of MB
});

t.test('the package ships JavaScript and run-time files, and installs without dev dependencies', async (t) => {
  const modules = readdirSync(join(installed, '..'));
  for (const dev of ['tsx', 'esbuild', 'typescript', 'tap', 'postject'])
    t.notOk(modules.includes(dev), `${dev} not installed`);
  t.notOk(existsSync(join(installed, 'builder', 'src')), 'no TypeScript sources in the package');
  for (const f of [
    'packer/sources.pkr.hcl',
    'packer/user-data.mustache',
    'packer/http/meta-data',
    'packer/scripts/seal.sh',
    'cloudformation/greengrass-fleet.yaml',
    'agent/agent.yaml',
    'systemd/greengrass-firstboot.service',
  ]) {
    t.ok(existsSync(join(installed, f)), `${f} shipped`);
  }
});

t.test('installed greengrass-image --help lists the commands', async (t) => {
  const r = await cli(['--help']);
  t.equal(r.code, 0, r.stderr);
  for (const c of ['claim', 'config', 'build', 'validate']) t.match(r.stdout, new RegExp(`greengrass-image ${c}\\b`));
});

t.test('installed config render writes the installer config from explicit endpoints, no AWS call', async (t) => {
  const out = join(work, 'config.yaml');
  const data = 'abc123-ats.iot.eu-west-1.amazonaws.com';
  const cred = 'abc123.credentials.iot.eu-west-1.amazonaws.com';
  const r = await cli(['config', 'render', '--iot-data-endpoint', data, '--iot-cred-endpoint', cred, '-o', out]);
  t.equal(r.code, 0, r.stderr);
  const doc = yaml.load(readFileSync(out, 'utf8')) as {
    services: Record<string, { configuration: Record<string, unknown> }>;
  };
  t.match(doc.services['aws.greengrass.FleetProvisioningByClaim'].configuration, {
    iotDataEndpoint: data,
    iotCredentialEndpoint: cred,
    awsRegion: 'eu-west-1',
  });
  t.equal(s.requests.length, 0);
});

t.test('installed validate --target vsphere uses the shipped templates and provisioning template', async (t) => {
  const r = await cli(['validate', '--target', 'vsphere', '--json']);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    ok: boolean;
    packerVersion: string;
    checks: { name: string; ok: boolean; detail: string }[];
  };
  t.equal(out.ok, true);
  t.equal(out.packerVersion, '1.6.6');
  t.same(out.checks.map((c) => /^packer validate (\S+)/.exec(c.name)?.[1]).filter(Boolean), ['vsphere-iso.ubuntu']);
  t.match(
    out.checks.find((c) => c.name === 'provisioning template parameters'),
    { ok: true, detail: /ThingName, ThingGroupName/ },
  );
  t.equal(s.requests.length, 0);
});

t.test('installed build: the agent comes from --agent-exe, checked, and its absence is said plainly', async (t) => {
  const base = ['build', '--target', 'qemu', '--env', 'installed', '--output-dir', join(work, 'image')];
  let r = await cli(base);
  t.equal(r.code, ExitCode.TOOL, r.stderr);
  t.match(r.stderr, /cannot build the agent .*pass --agent-exe <checkout>\/dist\/greengrass-firstboot/);
  t.notMatch(r.stderr, /internal error|\n\s+at /);
  t.equal(s.requests.length, 0, 'refused before any AWS call');

  // ELF headers only: 64-bit little-endian, e_machine at byte 18.
  const elf = (machine: number) => {
    const b = Buffer.alloc(64);
    Buffer.from('\x7fELF', 'latin1').copy(b);
    b[4] = 2;
    b[5] = 1;
    b.writeUInt16LE(machine, 18);
    return b;
  };
  const arm = join(work, 'agent-arm64');
  writeFileSync(arm, elf(183), { mode: 0o755 });
  r = await cli([...base, '--agent-exe', arm]);
  t.equal(r.code, ExitCode.CONFIG, r.stderr);
  t.match(r.stderr, `--agent-exe ${arm} is not a Linux x86-64 executable`);

  const x64 = join(work, 'agent-x64');
  writeFileSync(x64, elf(62), { mode: 0o755 });
  r = await cli([...base, '--agent-exe', x64]);
  t.equal(r.code, ExitCode.AWS, 'accepted: the build goes on to the claim, which this account lacks');
  t.match(r.stderr, /secret greengrass\/installed\/claims-certificate not found/);
});
