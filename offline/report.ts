// The pipeline's report as a person reads it: stages, one row per clone boot, the checks, and the first-boot
// journal of the clones worth reading (what an operator would see with journalctl on them).
import { readFileSync } from 'node:fs';
import { lastBootJournal } from './clone.ts';
import { mib } from './ova.ts';

/** The size the offline image's OVA should stay under (issue 20: 300 MB). */
export const OVA_TARGET_BYTES = 300_000_000;
import type { PipelineReport } from './pipeline.ts';

/**
 * One line of `journalctl -o short-iso` as a person reads it: the time, who logged it and the sentence. The [pid]
 * is dropped (the agent's entries are sent by logger, a process per entry). An older agent's pino JSON line is shown
 * by its msg.
 */
export function readableLine(line: string): string {
  const m = /^\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)\S* \S+ ([^\s[]+)(?:\[\d+\])?: (.*)$/.exec(line);
  if (!m) return line;
  let text = m[3] as string;
  const json = /^(?:<\d>)?(\{.*\})$/.exec(text);
  if (json) {
    try {
      const msg = (JSON.parse(json[1] as string) as { msg?: unknown }).msg;
      if (typeof msg === 'string') text = msg;
    } catch {
      // not JSON after all: keep the line
    }
  }
  return `${m[1]} ${m[2]}: ${text}`;
}

/**
 * The agent's journal of a clone's last boot and the unit's result, as sentences, the way `journalctl -u` shows
 * them. The installer's own output lines are left to the full journal file: the quote keeps the agent's story.
 */
export function journalQuote(journalFile: string, max = 12): string[] {
  const lines = lastBootJournal(readFileSync(journalFile, 'utf8')).split('\n');
  const mine = lines
    .filter(
      (l) =>
        / greengrass-firstboot\[\d+\]: /.test(l) ||
        /systemd\[1\]: greengrass-firstboot\.service: (Main process exited|Failed|Deactivated)/.test(l),
    )
    .map(readableLine)
    .filter((l) => !/^\S+ greengrass-firstboot: Installer: /.test(l));
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
