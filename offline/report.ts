// The pipeline's report as a person reads it: stages, one row per clone boot, the checks, and the first-boot
// journal of the clones worth reading (what an operator would see with journalctl on them).
import { readFileSync } from 'node:fs';
import { lastBootJournal } from './clone.ts';
import { mib } from './ova.ts';

/** The size the offline image's OVA should stay under (issue 20: 300 MB). */
export const OVA_TARGET_BYTES = 300_000_000;
import type { PipelineReport } from './pipeline.ts';

/** The agent's own journal lines of a clone's last boot and the unit's result, as `journalctl -u` shows them. */
export function journalQuote(journalFile: string, max = 8): string[] {
  const lines = lastBootJournal(readFileSync(journalFile, 'utf8')).split('\n');
  const mine = lines.filter(
    (l) =>
      / greengrass-firstboot\[\d+\]: /.test(l) ||
      /systemd\[1\]: greengrass-firstboot\.service: (Main process exited|Failed|Deactivated)/.test(l),
  );
  // Keep the end: the outcome and the lines that explain it.
  return mine.slice(-max).map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l));
}

export function formatReport(r: PipelineReport): string {
  const lines: string[] = [];
  lines.push(`offline pipeline: ${r.ok ? 'OK' : `FAILED at stage "${r.failedStage}"`}`);
  if (r.error) lines.push(`  error: ${r.error}`);
  if (r.baseImage)
    lines.push(
      `  base image: ${r.baseImage.dir} (${r.baseImage.cached ? 'cached' : `built in ${r.baseImage.buildSeconds} s`})`,
    );
  if (r.sealedImage) lines.push(`  sealed image: ${r.sealedImage}`);
  if (r.ova)
    lines.push(
      `  OVA: ${r.ova.path}: ${mib(r.ova.bytes)}, ${r.ova.bytes < OVA_TARGET_BYTES ? 'under' : 'OVER'} the 300 MB target (sealed qcow2 ${mib(r.ova.sealedDiskBytes)}; disk populated ${mib(r.ova.populatedBytes)} of ${mib(r.ova.capacityBytes)}; ${r.ova.problems.length ? `PROBLEMS: ${r.ova.problems.join('; ')}` : 'importer checks pass'})`,
    );
  lines.push(`  stages: ${r.stages.map((s) => `${s.name} ${s.seconds}s${s.ok ? '' : ' FAILED'}`).join(', ')}`);
  if (r.clones.length) {
    const row = (cols: string[]) =>
      '  ' +
      cols
        .map((c, i) => c.padEnd([16, 5, 18, 10, 14, 13, 10][i] ?? 0))
        .join(' ')
        .trimEnd();
    lines.push(row(['clone', 'boot', 'hostname', 'unit', 'registered', 'provisioned', 'multi-user']));
    for (const c of r.clones) {
      lines.push(
        row([
          c.id,
          String(c.boot),
          c.hostname ?? '<template>',
          c.outcome,
          c.registered.join(',') || '-',
          c.provisionedSeconds === null ? '-' : `${c.provisionedSeconds} s`,
          c.multiUserMs === null ? '-' : `${Math.round(c.multiUserMs / 1000)} s`,
        ]),
      );
    }
  }
  for (const q of r.journalQuotes ?? []) {
    lines.push(`  journalctl -u greengrass-firstboot on ${q.clone} (${q.why}):`);
    for (const l of q.lines) lines.push(`    ${l}`);
  }
  lines.push(`  ThingNames registered: ${r.registrations.map((x) => x.thingName).join(', ') || '(none)'}`);
  for (const c of r.checks) lines.push(`  ${c.ok ? 'PASS' : 'FAIL'} ${c.name}`);
  lines.push(`  logs: ${r.runDir}`);
  return lines.join('\n');
}
