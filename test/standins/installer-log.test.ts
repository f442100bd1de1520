// What the nucleus STAND-IN writes to greengrass.log around the provisioning plugin, checked against the lines
// and layout the real nucleus 2.16.0 and FleetProvisioningByClaim plugin write (docs/facts/nucleus-and-plugin.md):
// the start line, no INFO line on success, a /rejected reply as the cause lines after the failure line (the
// errorMessage only), a closed connection retried as RetryableProvisioningException, 3 attempts in all.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildInstallerStandin, nucleusPid, type InstallerStandinJars } from '../../harness/standin-installer.ts';
import { installerArgs, makeInstallerDevice, type InstallerDevice } from '../../harness/installer-device.ts';
import { startScriptedBroker, type RegisterThingAnswer } from '../../harness/scripted-broker.ts';
import { createCa, issueCertificate } from '../../standins/pki.ts';
import { startProvisioningStandin } from '../../standins/provisioning/server.ts';
import { waitFor } from '../helpers/wait.ts';

const TEMPLATE = 'GoldenFleetTemplate';
const ca = createCa();
const claim = issueCertificate(ca, { commonName: 'fleet claim' });
let jars: InstallerStandinJars;
t.before(async () => {
  jars = await buildInstallerStandin();
});

/** An entry's first line in the nucleus's text layout: `<ISO instant> [LEVEL] (thread) logger: message`. */
const ENTRY = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z \[(TRACE|DEBUG|INFO|WARN|ERROR)\] \([^)]*\) [\w.$]+: /;
const FAILURE =
  'com.aws.greengrass.lifecyclemanager.KernelLifecycle: Caught exception while running provisioning plugin. ' +
  'Moving on to run Greengrass without provisioning. {}';

function install(d: InstallerDevice, env: Record<string, string> = {}): Promise<number | null> {
  return new Promise((resolve) => {
    execFile(
      'java',
      installerArgs(jars, d),
      { env: { ...process.env, GG_STANDIN_SYSTEMD_DIR: d.systemd, ...env }, timeout: 60_000 },
      (err) => {
        resolve(err ? ((err as unknown as { code?: number }).code ?? null) : 0);
      },
    );
  });
}

function log(d: InstallerDevice): string {
  const f = join(d.root, 'logs', 'greengrass.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

/** The lines after the failure entry up to the next entry: the cause as printStackTrace wrote it. */
function causeLines(text: string): string[] {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.endsWith(FAILURE));
  if (i < 0) return [];
  const rest = lines.slice(i + 1);
  const end = rest.findIndex((l) => ENTRY.test(l) || l === '');
  return end < 0 ? rest : rest.slice(0, end);
}

async function scripted(t: { teardown(fn: () => unknown): void }, answer: (n: number) => RegisterThingAnswer) {
  const b = await startScriptedBroker(ca, answer);
  t.teardown(() => b.stop());
  return b;
}

t.test('success: the real start line, entries in the nucleus layout, no INFO success line', async (t) => {
  const s = await startProvisioningStandin({ ca, templateName: TEMPLATE });
  t.teardown(() => s.stop());
  const d = makeInstallerDevice(t, { ca, claim, port: s.port, thingName: 'edge-log-ok', template: TEMPLATE });
  t.equal(await install(d), 0);
  await waitFor(
    'thing registered',
    () => s.registrations.length === 1 && /Received register thing response/.test(log(d)),
  );
  await new Promise((r) => setTimeout(r, 300));
  const text = log(d);
  t.match(
    text,
    /\[INFO\] \([^)]*\) com\.aws\.greengrass\.lifecyclemanager\.KernelLifecycle: Running provisioning plugin: aws\.greengrass\.FleetProvisioningByClaim\. \{\}\n/,
  );
  const entries = text.split('\n').filter(Boolean);
  t.same(
    entries.filter((l) => !ENTRY.test(l)),
    [],
    'every line is an entry in the nucleus layout',
  );
  const after = entries.slice(
    entries.findIndex((l) => /Received register thing response for thing name edge-log-ok/.test(l)) + 1,
  );
  t.same(
    after.filter((l) => /\[INFO\].*KernelLifecycle/.test(l)),
    [],
    'no INFO line from KernelLifecycle after the registration',
  );
  t.notMatch(text, /Successfully provisioned|Caught exception/);
});

t.test(
  'a rejected RegisterThing: the failure line, then the errorMessage as the real cause chain; not retried',
  async (t) => {
    const message = 'ACCESS_DENIED: pre-provisioning hook denied the request';
    const b = await scripted(t, () => ({
      rejected: { statusCode: 403, errorCode: 'AccessDenied', errorMessage: message },
    }));
    const d = makeInstallerDevice(t, { ca, claim, port: b.port, thingName: 'edge-log-denied', template: TEMPLATE });
    t.equal(await install(d), 0);
    await waitFor('failure line', () => causeLines(log(d)).length > 0);
    const text = log(d);
    const cause = causeLines(text);
    t.equal(cause[0], `com.aws.greengrass.DeviceProvisioningRuntimeException: java.lang.RuntimeException: ${message}`);
    t.ok(
      cause.some((l) => l === `Caused by: java.lang.RuntimeException: ${message}`),
      'the RuntimeException is the cause',
    );
    t.ok(
      cause.slice(1).every((l) => /^(\tat |\t\.\.\. \d+ more|Caused by: )/.test(l)),
      'stack trace lines only',
    );
    t.match(
      text,
      /\[ERROR\] \([^)]*\) com\.aws\.greengrass\.FutureExceptionHandler: Caught exception during registering Iot Thing\. \{\}\njava\.util\.concurrent\.ExecutionException: java\.lang\.RuntimeException: ACCESS_DENIED/,
    );
    t.notMatch(text, /statusCode|errorCode=|AccessDenied|403/, 'statusCode and errorCode never reach the log');
    t.notMatch(text, /task failed and will be retried/);
    t.equal(b.connects, 1, 'not retried');
    t.equal(b.registerThings, 1);
    t.ok(nucleusPid(d.root), 'the nucleus runs on, unprovisioned');
  },
);

t.test('a connection closed instead of the reply: retryable, 3 attempts in all, then the failure line', async (t) => {
  const b = await scripted(t, () => 'close');
  const d = makeInstallerDevice(t, { ca, claim, port: b.port, thingName: 'edge-log-closed', template: TEMPLATE });
  t.equal(await install(d, { GG_STANDIN_MQTT_TIMEOUT_SECONDS: '0.5' }), 0);
  await waitFor('failure line', () => causeLines(log(d)).length > 0);
  const text = log(d);
  t.equal(b.connects, 3, 'each attempt connects again');
  t.equal(b.registerThings, 3);
  t.equal((text.match(/Connection interrupted/g) ?? []).length, 3);
  t.equal(
    (
      text.match(
        /Caught exception during registering Iot Thing\. \{retryable=true\}\njava\.util\.concurrent\.TimeoutException\n/g,
      ) ?? []
    ).length,
    3,
  );
  t.equal(
    (
      text.match(
        /KernelLifecycle: Running provisioning plugin\. task failed and will be retried\. \{task-attempt=1\}\n/g,
      ) ?? []
    ).length,
    1,
    'only the first retry is logged at INFO (the second is DEBUG)',
  );
  t.equal(
    causeLines(text)[0],
    'com.aws.greengrass.provisioning.exceptions.RetryableProvisioningException: java.util.concurrent.TimeoutException',
  );
});

t.test('a failed connect: the plugin retries it every few seconds, logging the real lines, without end', async (t) => {
  const b = await scripted(t, () => 'close');
  await b.stop();
  const d = makeInstallerDevice(t, { ca, claim, port: b.port, thingName: 'edge-log-refused', template: TEMPLATE });
  t.equal(await install(d, { GG_STANDIN_CONNECT_RETRY_SECONDS: '0.2' }), 0);
  await waitFor(
    'connect retries',
    () => (log(d).match(/Retrying MQTT connect which failed in provisioning plugin\. \{\}/g) ?? []).length >= 3,
  );
  const text = log(d);
  t.match(
    text,
    /\[WARN\] \([^)]*\) com\.aws\.greengrass\.FutureExceptionHandler: Caught exception while establishing connection to AWS Iot\. \{retryable=true\}\ncom\.aws\.greengrass\.provisioning\.exceptions\.RetryableProvisioningException: software\.amazon\.awssdk\.crt\.mqtt\.MqttException: /,
  );
  t.notMatch(text, /Caught exception while running provisioning plugin/, 'a failed connect never ends the plugin');
});
