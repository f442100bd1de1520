// `check`'s report of the machine: hypervisor, vendor and model from systeminformation, CPUs from Node. Only `check`
// loads systeminformation, by a dynamic import, so `run` never evaluates it; and only its lib/system.js (with
// lib/util.js), not the package's entry, which requires all 20 of its modules: in the one-file bundle those cost
// every start of the executable a few ms of CPU even unevaluated (docs/measurements.md). Its system() runs, through
// sh, `dmidecode -t system` (absent on a minimal guest: it prints nothing and the DMI files answer), then `cat` of
// five /sys/devices/virtual/dmi/id files, `ls /dev/disk/by-id` and `dmesg | grep`, and reads /proc/cpuinfo: all
// local. dmidecode is awaited asynchronously and bounded here; the rest run synchronously on kernel files, which
// answer at once. Its cpu() is not used: it runs lscpu twice and dmidecode for what /proc/cpuinfo (os.cpus()) says.
import { cpus } from 'node:os';

/** Bound on systeminformation's answer; past it the report says so and check goes on. */
export const HOST_REPORT_TIMEOUT_MS = 5000;

interface SystemData {
  manufacturer: string;
  model: string;
  virtual: boolean;
  virtualHost?: string;
}

/** One line: "virtual machine (KVM), QEMU Standard PC (i440FX + PIIX, 1996), 2 × AMD EPYC 7B13". */
export async function hostReport(timeoutMs = HOST_REPORT_TIMEOUT_MS): Promise<string> {
  const list = cpus();
  const cpu = `${list.length} × ${list[0]?.model.trim() || 'unknown CPU'}`;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    const si = await import('systeminformation/lib/system.js');
    const sys: SystemData = await Promise.race([si.system(), timeout]);
    return `${machineKind(sys)}, ${cpu}`;
  } catch (err) {
    return `hypervisor unknown (systeminformation: ${(err as Error).message}), ${cpu}`;
  } finally {
    clearTimeout(timer);
  }
}

/** What kind of machine systeminformation found, with the vendor and model DMI names. */
export function machineKind(sys: SystemData): string {
  const named = [sys.manufacturer, sys.model].filter((s) => s && s !== 'Computer').join(' ');
  const kind = sys.virtual
    ? `virtual machine (${sys.virtualHost ?? 'hypervisor not named'})`
    : 'no hypervisor detected';
  return named ? `${kind}, ${named}` : kind;
}
