// Typed errors shared by the agent and the builder. Each carries the process exit
// code it maps to; the CLIs catch them in one place (see agent/src/cli.ts, builder/src/cli.ts).

/** Exit codes. Documented in README.md; the systemd unit's RestartPreventExitStatus= lists the permanent ones. */
export const ExitCode = {
  OK: 0,
  /** Unexpected internal error (a bug). */
  INTERNAL: 1,
  /** Command-line usage error. */
  USAGE: 2,
  /** Permanent configuration error: bad agent config, refused ThingName, bad template, missing files. Retrying cannot help. */
  CONFIG: 3,
  /** Transient failure (network, clock, installer failure, provisioning not confirmed): retry later. */
  TRANSIENT: 75, // EX_TEMPFAIL
  /** Builder: an AWS call failed (after the SDK's retries). */
  AWS: 4,
  /** Builder: an external tool (packer, the agent build) is missing or failed. */
  TOOL: 5,
  /** Builder: an integrity check failed (checksum mismatch, key does not match certificate). */
  INTEGRITY: 6,
  /** Interrupted by SIGINT/SIGTERM. */
  INTERRUPTED: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class CliError extends Error {
  readonly exitCode: ExitCodeValue;
  /** Short machine-readable reason, e.g. "thing-name-refused". Shown in `status --json` and logs. */
  readonly reason: string;
  constructor(message: string, exitCode: ExitCodeValue, reason: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.reason = reason;
  }
}

/**
 * An error kind: the exit code it ends the process with, and the reason it gives when the thrower names none.
 * Each kind below is its own class, so callers can tell them apart with instanceof.
 */
function errorKind(exitCode: ExitCodeValue, defaultReason: string) {
  return class extends CliError {
    constructor(message: string, reason = defaultReason, options?: { cause?: unknown }) {
      super(message, exitCode, reason, options);
    }
  };
}

/** Retrying cannot help: the operator must change configuration or the image. */
export class ConfigError extends errorKind(ExitCode.CONFIG, 'config') {}
/** Worth retrying later (network, clock, installer or provisioning failure). */
export class TransientError extends errorKind(ExitCode.TRANSIENT, 'transient') {}
export class AwsError extends errorKind(ExitCode.AWS, 'aws') {}
export class ToolError extends errorKind(ExitCode.TOOL, 'tool') {}
export class IntegrityError extends errorKind(ExitCode.INTEGRITY, 'integrity') {}

export class UsageError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.USAGE, 'usage', options);
  }
}

export class InterruptedError extends CliError {
  constructor(signal: string) {
    super(`interrupted by ${signal}`, ExitCode.INTERRUPTED, 'interrupted');
  }
}
