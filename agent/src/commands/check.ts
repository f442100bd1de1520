// `greengrass-firstboot check`: every preflight step, reported one per line; changes nothing and
// waits for nothing (clock and network are tried once unless --wait).
import { machine, totalmem } from 'node:os';
import { CliError, ExitCode } from '../../../common/errors.ts';
import { loadTemplate, type LoadedTemplate } from '../installer-config.ts';
import {
  checkClaim,
  checkJars,
  checkJava,
  step,
  waitForClock,
  waitForEndpoint,
  type StepResult,
} from '../preflight.ts';
import { acceptRecordedName } from '../identity-name.ts';
import { checkDeviceKeyTool } from '../device-key.ts';
import { checkArchitecture, checkDisk, checkMemory, diskFacts } from '../host.ts';
import { hostReport } from '../host-report.ts';
import { readSentinel } from '../state.ts';
import { fqdnRewrite, resolveThingNameFrom } from '../thing-name-source.ts';
import { nucleusIdentity } from '../verify.ts';
import type { CommandContext } from './context.ts';

export async function checkCommand(ctx: CommandContext, opts: { wait: boolean; json: boolean }): Promise<number> {
  const { cfg, log, signal } = ctx;
  const results: StepResult[] = [];
  const pctx = { cfg, log, signal, wait: opts.wait };
  let thingName: string | undefined;
  let tpl: LoadedTemplate | undefined;
  results.push(await step('agent-config', () => ctx.configPath));
  let sentinel: ReturnType<typeof readSentinel> = null;
  results.push(
    await step('sentinel', () => {
      sentinel = readSentinel(cfg.state.sentinel);
      return sentinel ? `present: already provisioned as ${sentinel.thingName}` : `absent (${cfg.state.sentinel})`;
    }),
  );
  // What run would skip, check reports as not needed (and its exit code stays the one run would have): everything
  // once the sentinel exists; the preflight once the nucleus holds an identity (run only finishes then).
  const found = sentinel as ReturnType<typeof readSentinel>;
  const provisioned = found ? `not needed: already provisioned as ${found.thingName}` : null;
  let recorded: string | null = null;
  const preflightNotNeeded = (): string | null =>
    provisioned ?? (recorded ? `not needed: the nucleus already holds identity ${recorded}` : null);
  results.push(
    await step('thing-name', () => {
      if (provisioned) return provisioned;
      const named = resolveThingNameFrom(cfg);
      thingName = named.thingName;
      if (named.source === 'ovf-env')
        return `${thingName} (${named.namedBy}${named.ovfValue ? `, value ${named.ovfValue}, thingName.fqdn: ${named.fqdn}` : ''})`;
      const rewrite = fqdnRewrite(cfg);
      return rewrite ? `${thingName} (hostname ${rewrite.hostname}, thingName.fqdn: ${rewrite.fqdn})` : thingName;
    }),
  );
  results.push(
    await step('installer-config', () => {
      if (provisioned) return provisioned;
      if (!thingName) return skip('needs a valid ThingName');
      tpl = loadTemplate(cfg, thingName);
      return `${cfg.installer.configTemplate} (template parameters: ${Object.keys(tpl.filled.services['aws.greengrass.FleetProvisioningByClaim'].configuration.templateParameters ?? {}).join(', ')})`;
    }),
  );
  results.push(
    await step('identity', () => {
      if (provisioned) return provisioned;
      if (!tpl) return skip('needs the installer config');
      const held = nucleusIdentity(tpl.fleet.rootPath);
      if (held.thingName !== null && held.problems.length > 0) {
        return `ThingName ${held.thingName} recorded, but the nucleus is not configured to talk to the cloud (${held.problems.join('; ')}): it provisions again`;
      }
      recorded = held.thingName;
      if (recorded && thingName) acceptRecordedName(cfg, recorded, thingName, 'before');
      return recorded ? `the nucleus already holds identity ${recorded}` : 'none recorded yet';
    }),
  );
  results.push(await step('java', () => preflightNotNeeded() ?? checkJava(cfg)));
  results.push(await step('installer-jars', () => preflightNotNeeded() ?? checkJars(cfg)));
  results.push(
    await step(
      'device-key',
      async () =>
        preflightNotNeeded() ?? (tpl ? checkDeviceKeyTool(cfg, tpl.fleet, signal) : skip('needs the installer config')),
    ),
  );
  let claim: ReturnType<typeof checkClaim> | undefined;
  results.push(
    await step('claim-certificate', () => {
      const skipped = preflightNotNeeded();
      if (skipped) return skipped;
      if (!tpl) return skip('needs the installer config');
      claim = checkClaim(tpl.fleet);
      return `${claim.subject.replace(/\n/g, ', ')} valid ${claim.notBefore.toISOString()} .. ${claim.notAfter.toISOString()}`;
    }),
  );
  results.push(
    await step(
      'clock',
      async () =>
        preflightNotNeeded() ??
        (tpl && claim ? waitForClock(pctx, claim, tpl.mtime) : skip('needs the claim certificate')),
    ),
  );
  results.push(
    await step(
      'endpoint',
      async () => preflightNotNeeded() ?? (tpl ? waitForEndpoint(pctx, tpl.fleet) : skip('needs the installer config')),
    ),
  );
  // The machine: reported always; held against the nucleus's minimums where run would (host.ts), listed last.
  results.push(await step('host', () => hostReport()));
  results.push(await step('architecture', () => checkArchitecture(machine())));
  results.push(await step('memory', () => preflightNotNeeded() ?? checkMemory(totalmem())));
  results.push(
    await step(
      'disk',
      () =>
        preflightNotNeeded() ?? (tpl ? checkDisk(diskFacts(tpl.fleet.rootPath)) : skip('needs the installer config')),
    ),
  );

  const failed = results.filter((r) => !r.ok);
  if (opts.json) {
    ctx.out(
      `${JSON.stringify({ ok: failed.length === 0, thingName: thingName ?? null, steps: results.map(({ error, ...r }) => ({ ...r, reason: error?.reason })) }, null, 2)}\n`,
    );
  } else {
    for (const r of results)
      ctx.out(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.step.padEnd(18)} ${r.detail.replace(/\n/g, '\n      ')}\n`);
  }
  if (failed.length === 0) return ExitCode.OK;
  // Permanent problems outrank transient ones: retrying cannot fix those.
  const permanent = failed.find((r) => r.error?.exitCode === ExitCode.CONFIG);
  return (permanent ?? failed[0])?.error?.exitCode ?? ExitCode.INTERNAL;
}

class Skipped extends CliError {
  constructor(why: string) {
    super(`skipped: ${why}`, ExitCode.CONFIG, 'skipped');
  }
}
function skip(why: string): never {
  throw new Skipped(why);
}
