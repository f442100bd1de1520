// build: the 0700 staging dir and its cleanup. It holds a copy of the claim private key, so it is removed on
// every way out: success, failure, SIGINT and SIGTERM (a running packer is first told to stop its VM), and
// process exit. An interrupted build ends with ExitCode.INTERRUPTED.
import { type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../../common/atomic-write.ts';
import { InterruptedError } from '../../../../common/errors.ts';
import type { ClaimSecret } from '../../claim-secret.ts';
import { REPO_ROOT } from '../../packer.ts';
import { REPOSITORY_FILES } from './inputs.ts';
import type { BuildInfo } from './manifest.ts';

/** How long packer gets to stop its VM after SIGINT before it is killed. */
const PACKER_STOP_MS = 60_000;

export class Stage {
  readonly dir: string;
  /** The staged files Packer uploads (`staging_dir`). */
  readonly files: string;
  child: ChildProcess | null = null;
  /** What packer leaves behind if it is killed instead of stopped: its VM and output dir hold the claim key. */
  packerLeftovers = '';
  private removed = false;
  private stopping = false;
  private readonly onSignal = (sig: NodeJS.Signals) => this.interrupted(sig);
  private readonly onExit = () => this.remove();

  constructor(private readonly progress: (m: string) => void) {
    this.dir = mkdtempSync(join(tmpdir(), 'greengrass-image-'));
    chmodSync(this.dir, 0o700);
    this.files = join(this.dir, 'files');
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    process.on('exit', this.onExit);
    mkdirSync(this.files, { mode: 0o700 });
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    rmSync(this.dir, { recursive: true, force: true });
    this.progress(`removed staging dir ${this.dir}`);
  }

  close(): void {
    this.remove();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('exit', this.onExit);
  }

  private packerRunning(): ChildProcess | null {
    const child = this.child;
    return child && child.exitCode === null && child.signalCode === null ? child : null;
  }

  private killPacker(why: string): void {
    const child = this.packerRunning();
    if (!child) return;
    child.kill('SIGKILL');
    process.stderr.write(
      `greengrass-image: ${why}: packer killed before it could clean up; ${this.packerLeftovers} may still hold the claim key: remove them\n`,
    );
  }

  /** First signal: remove the staged secrets now, let packer stop its VM, then exit. A second one: kill packer, exit. */
  private interrupted(sig: NodeJS.Signals): void {
    const error = new InterruptedError(sig);
    if (this.stopping) {
      this.killPacker(`second ${sig}`);
      process.exit(error.exitCode);
    }
    this.stopping = true;
    this.remove();
    process.stderr.write(`greengrass-image: ${sig}: staging dir removed, stopping\n`);
    const finish = () => {
      process.stderr.write(`greengrass-image: error: ${error.message}\n`);
      process.exit(error.exitCode);
    };
    const child = this.packerRunning();
    if (child) {
      child.once('close', finish);
      child.kill('SIGINT'); // packer stops its VM and cleans up on SIGINT
      setTimeout(
        () => this.killPacker(`packer still running ${PACKER_STOP_MS / 1000} s after SIGINT`),
        PACKER_STOP_MS,
      ).unref();
    } else finish();
  }
}

/** What goes into the image, by staged file name (packer/scripts install them). */
export interface StagedContent {
  nucleusZip: string;
  pluginJar: string;
  configText: string;
  claim: ClaimSecret;
  rootCaPem: string;
  agentExe: string;
  buildInfo: BuildInfo;
}

export function stageFiles(files: string, c: StagedContent): void {
  copyFileSync(c.nucleusZip, join(files, 'greengrass-nucleus.zip'));
  copyFileSync(c.pluginJar, join(files, 'fleetprovisioningbyclaim.jar'));
  writeFileSync(join(files, 'config.yaml'), c.configText, { mode: 0o600 }); // may hold the proxy password
  writeFileSync(join(files, 'claim.pem.crt'), c.claim.certificatePem, { mode: 0o644 });
  writeFileAtomic(join(files, 'claim.private.pem.key'), c.claim.privateKey, 0o600);
  writeFileSync(join(files, 'AmazonRootCA1.pem'), c.rootCaPem, { mode: 0o644 });
  copyFileSync(c.agentExe, join(files, 'greengrass-firstboot'));
  chmodSync(join(files, 'greengrass-firstboot'), 0o755);
  for (const [staged, source] of Object.entries(REPOSITORY_FILES))
    copyFileSync(join(REPO_ROOT, source), join(files, staged));
  writeFileSync(join(files, 'build-info.json'), `${JSON.stringify(c.buildInfo, null, 2)}\n`, { mode: 0o644 });
}
