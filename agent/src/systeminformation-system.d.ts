// Types for the one systeminformation module check loads (host-report.ts says why not the package's entry).
declare module 'systeminformation/lib/system.js' {
  import type { Systeminformation } from 'systeminformation';
  export function system(): Promise<Systeminformation.SystemData>;
}
