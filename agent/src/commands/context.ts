import type { AgentConfig } from '../agent-config.ts';
import type { Logger } from '../log.ts';

export interface CommandContext {
  configPath: string;
  cfg: AgentConfig;
  log: Logger;
  /** Aborted on SIGTERM/SIGINT; the reason is an InterruptedError. */
  signal: AbortSignal;
  /** Human-readable output (stdout). */
  out: (text: string) => void;
}
