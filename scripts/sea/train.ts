// Build step (scripts/build.mjs bundles this file and runs it with the same node binary the executable is
// made from, with no flags: V8 accepts a code cache only under the flags it was made with):
//   node sea-train.cjs <agent bundle> <cache out>
// Runs the agent bundle's commands in this process, the way a clone's first boot does (run, with the
// installer, verify and finish) plus check, status, --help and --version, against a throwaway device tree,
// then writes the V8 code cache of the bundle's script: every function those commands compiled is in it.
// The device tree: a temp dir with a self-signed claim certificate (openssl), the installer config template
// from common/installer-config.ts, a TCP listener as the IoT endpoint, and a shell script as `java` that
// writes what the installer and the provisioning plugin would (tlog record, device cert, enable link).
// Nothing outside the temp dir is touched; the dir is removed on every exit path. Any command that does not
// end as expected fails the build: the cache would then train the wrong paths.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { wrap } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import yaml from 'js-yaml';
import { deviceCredentialPaths, renderInstallerConfig } from '../../common/installer-config.ts';
import { DEFAULT_AGENT_CONFIG, type AgentConfig } from '../../agent/src/agent-config.ts';

const THING_NAME = 'greengrass-firstboot-training';
const COMMAND_TIMEOUT_MS = 60_000;

function sh(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Lay out the device tree under `dir`; returns the agent config path and the sentinel. */
function makeDevice(dir: string, endpointPort: number): { configPath: string; sentinel: string } {
  const gg = join(dir, 'greengrass', 'v2');
  const claims = join(gg, 'claim-certs');
  const state = join(dir, 'var', 'lib', 'greengrass-firstboot');
  const etc = join(dir, 'etc', 'greengrass-firstboot');
  const jdk = join(dir, 'jdk');
  for (const d of [join(gg, 'installer', 'lib'), claims, state, etc, join(jdk, 'bin')]) mkdirSync(d, { recursive: true, mode: 0o700 });

  const cert = join(claims, 'claim.pem.crt');
  const key = join(claims, 'claim.private.pem.key');
  // The key is written by openssl straight into the 0700 dir; it never passes through arguments or output.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=greengrass-firstboot-training'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const rootCa = join(gg, 'AmazonRootCA1.pem');
  writeFileSync(rootCa, readFileSync(cert));

  const jar = join(gg, 'installer', 'lib', 'Greengrass.jar');
  const pluginJar = join(gg, 'installer', 'aws.greengrass.FleetProvisioningByClaim.jar');
  writeFileSync(jar, 'training: not a jar\n');
  writeFileSync(pluginJar, 'training: not a jar\n');
  const settings = {
    nucleusVersion: '2.16.0', rootPath: gg, awsRegion: 'us-east-1', iotDataEndpoint: '127.0.0.1', mqttPort: endpointPort,
    iotCredentialEndpoint: 'credentials.training.invalid', iotRoleAlias: 'GreengrassCoreTokenExchangeRoleAlias',
    provisioningTemplate: 'GreengrassFleetProvisioningTemplate', claimCertificatePath: cert, claimCertificatePrivateKeyPath: key, rootCaPath: rootCa,
  };
  const template = join(gg, 'installer', 'config.yaml');
  writeFileSync(template, renderInstallerConfig(settings));

  const enabledLink = join(dir, 'etc', 'systemd', 'system', 'multi-user.target.wants', 'greengrass.service');
  const device = deviceCredentialPaths(settings);
  const tlog = join(gg, 'config', 'config.tlog');
  // What the nucleus records on success: the identity and the Nucleus endpoints/region (a ThingName alone is not
  // "provisioned" to the nucleus, nor to the agent).
  const nucleus = ['services', 'aws.greengrass.Nucleus', 'configuration'];
  const tlogLines: Array<[string[], string]> = [
    [['system', 'thingName'], THING_NAME], [['system', 'certificateFilePath'], device.certificatePath],
    [['system', 'privateKeyPath'], device.privateKeyPath], [['system', 'rootCaPath'], rootCa],
    [[...nucleus, 'iotDataEndpoint'], settings.iotDataEndpoint], [[...nucleus, 'iotCredEndpoint'], settings.iotCredentialEndpoint],
    [[...nucleus, 'awsRegion'], settings.awsRegion],
  ];
  const tlogLine = tlogLines.map(([TP, V]) => JSON.stringify({ TS: 0, TP, W: 'changed', V })).join('\n');
  // `java`: -version answers like a JDK 17; otherwise it plays the installer + plugin, instantly.
  writeFileSync(join(jdk, 'release'), 'JAVA_VERSION="17.0.13"\n');
  writeFileSync(join(jdk, 'bin', 'java'), [
    '#!/bin/sh',
    'if [ "$1" = -version ]; then echo \'openjdk version "17.0.13" 2024-10-15\' >&2; exit 0; fi',
    'echo "Setting up Greengrass Nucleus (training stand-in)"',
    `mkdir -p ${sh(dirname(tlog))} ${sh(dirname(enabledLink))}`,
    `printf '%s\\n' ${sh(tlogLine)} >> ${sh(tlog)}`,
    `echo training > ${sh(device.certificatePath)}; echo training > ${sh(device.privateKeyPath)}; : > ${sh(enabledLink)}`,
    'echo "Successfully set up Nucleus as a system service"',
    '',
  ].join('\n'), { mode: 0o755 });

  const hostnameFile = join(dir, 'etc', 'hostname');
  writeFileSync(hostnameFile, `${THING_NAME}\n`);
  const stateFile = join(state, 'state.json');
  const sentinel = join(state, 'provisioned.json');
  const cfg: AgentConfig = {
    ...DEFAULT_AGENT_CONFIG,
    thingName: { ...DEFAULT_AGENT_CONFIG.thingName, templateHostnameFile: join(etc, 'template-hostname') },
    sources: { ...DEFAULT_AGENT_CONFIG.sources, hostnameFile, dmiSerialFile: join(dir, 'product_serial'), dmiUuidFile: join(dir, 'product_uuid'), vmwareRpctool: join(dir, 'vmware-rpctool') },
    installer: { ...DEFAULT_AGENT_CONFIG.installer, java: join(jdk, 'bin', 'java'), jar, pluginJar, configTemplate: template, renderedConfig: join(state, 'config.yaml') },
    preflight: { clockWaitSeconds: 5, networkWaitSeconds: 5, connectTimeoutMs: 2000 },
    verify: { ...DEFAULT_AGENT_CONFIG.verify, timeoutSeconds: 20, pollMs: 50 },
    service: { ...DEFAULT_AGENT_CONFIG.service, restartCommand: ['false'], enabledLink },
    state: { stateFile, sentinel },
  };
  const configPath = join(etc, 'agent.yaml');
  writeFileSync(configPath, yaml.dump(cfg, { lineWidth: -1 }));
  return { configPath, sentinel };
}

async function main(): Promise<void> {
  const [bundlePath, cachePath] = process.argv.slice(2);
  if (!bundlePath || !cachePath) throw new Error('usage: sea-train.cjs <agent bundle> <cache out>');
  const script = new Script(wrap(readFileSync(bundlePath, 'utf8')), { filename: bundlePath });
  const agentMain = script.runInThisContext() as (...a: unknown[]) => void;

  const endpoint = createServer((s) => s.destroy());
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'gg-sea-train-'));
  const realExit = process.exit;
  try {
    const { configPath, sentinel } = makeDevice(dir, (endpoint.address() as { port: number }).port);
    const commands: [string[], Record<string, string>][] = [
      [['--version'], {}],
      [['--help'], {}],
      [['status', '--json', '--config', configPath], {}],
      [['check', '--json', '--config', configPath], {}],
      // first boot runs under systemd: journald priority prefixes on
      [['run', '--config', configPath], { JOURNAL_STREAM: '8:12345' }],
      [['status', '--config', configPath], {}],
      [['run', '--config', configPath], { JOURNAL_STREAM: '8:12345' }],
    ];
    for (const [args, env] of commands) {
      const saved = { ...process.env };
      Object.assign(process.env, env);
      process.argv = [process.execPath, bundlePath, ...args];
      const code = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`training: \`${args.join(' ')}\` did not finish (exit code so far ${process.exitCode})`)), COMMAND_TIMEOUT_MS);
        // The agent ends every command with process.exit(code).
        process.exit = ((c?: number) => {
          clearTimeout(timer);
          resolve(c ?? 0);
        }) as typeof process.exit;
        const mod = { exports: {} };
        agentMain.call(mod.exports, mod.exports, require, mod, bundlePath, dirname(bundlePath));
      });
      process.exit = realExit;
      process.env = saved;
      process.exitCode = undefined;
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.removeAllListeners(sig);
      if (code !== 0) throw new Error(`training: \`${args.join(' ')}\` exited ${code}`);
    }
    if (!existsSync(sentinel)) throw new Error('training: `run` exited 0 but wrote no sentinel');
    writeFileSync(cachePath, script.createCachedData());
  } finally {
    process.exit = realExit;
    endpoint.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
