// The fleet's pre-provisioning hook: the Lambda AWS IoT calls with every RegisterThing request
// through the stack's provisioning template, before anything is registered. It answers
// {allowProvisioning} by this rule (docs/pre-provisioning-hook.md):
//   1. the ThingName must pass the ThingName rules (common/thing-name.ts) and, when the stack sets
//      AllowedThingNamePattern, match it;
//   2. a name without a Thing, or whose Thing already holds the requesting certificate (a device
//      retrying its own registration), is allowed;
//   3. a name whose Thing holds another ACTIVE certificate is refused only when Greengrass knows a core
//      device by that name (the nucleus reported: a working core holds it); a previous certificate
//      that never showed up as a core (a lost reply, a crash before the first connection) does not
//      block the name.
// Any error, and no answer within the deadline, denies (IoT answers ACCESS_DENIED to a failing hook).
// Bundled with esbuild into the stack's inline code (build.ts); the @aws-sdk v3 clients come from the
// Lambda Node.js runtime.
import { DescribeCertificateCommand, IoTClient, ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import { GetCoreDeviceCommand, GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { validateThingName } from '../../common/thing-name.ts';

/** What IoT sends (IoT guide, "Pre-provisioning hooks", payload version 2020-04-01). */
export interface HookEvent {
  claimCertificateId: string;
  certificateId: string;
  certificatePem: string;
  templateArn: string;
  clientId: string;
  parameters: Record<string, string>;
}

export interface HookAnswer {
  allowProvisioning: boolean;
  parameterOverrides?: Record<string, string>;
}

/** Client settings (region, endpoint, credentials, retries) for both AWS clients the hook makes. */
export type ClientConfig = ConstructorParameters<typeof IoTClient>[0] &
  ConstructorParameters<typeof GreengrassV2Client>[0];

export interface HookOptions {
  clientConfig?: ClientConfig;
  /** Optional: the whole ThingName must match this regular expression (stack parameter AllowedThingNamePattern). */
  allowedPattern?: string;
  /** IoT gives the hook 5 s; answer deny before that. */
  deadlineMs?: number;
  log?: (line: Record<string, unknown>) => void;
}

interface HookDeps extends HookOptions {
  iot: IoTClient;
  gg: GreengrassV2Client;
}

class Refused extends Error {}

const errorName = (err: unknown): string => (err as { name?: string })?.name ?? '';

async function thingCertificates(iot: IoTClient, thingName: string): Promise<string[] | null> {
  const ids: string[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const r = await iot.send(new ListThingPrincipalsCommand({ thingName, nextToken }));
      for (const p of r.principals ?? []) if (p.includes(':cert/')) ids.push(p.slice(p.lastIndexOf('/') + 1));
      nextToken = r.nextToken;
    } while (nextToken);
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException') return null;
    throw err;
  }
  return ids;
}

async function isActive(iot: IoTClient, certificateId: string): Promise<boolean> {
  try {
    const d = await iot.send(new DescribeCertificateCommand({ certificateId }));
    return d.certificateDescription?.status === 'ACTIVE';
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException') return false;
    throw err;
  }
}

async function coreDeviceKnown(gg: GreengrassV2Client, thingName: string): Promise<boolean> {
  try {
    await gg.send(new GetCoreDeviceCommand({ coreDeviceThingName: thingName }));
    return true;
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException') return false;
    throw err;
  }
}

/** The rule; returns why it allows, or throws Refused with why not. */
async function decide(event: HookEvent, d: HookDeps): Promise<string> {
  const name = event?.parameters?.ThingName;
  if (typeof name !== 'string') throw new Refused('the request has no ThingName parameter');
  try {
    validateThingName(name);
  } catch (err) {
    throw new Refused((err as Error).message);
  }
  if (d.allowedPattern && !new RegExp(`^(?:${d.allowedPattern})$`).test(name)) {
    throw new Refused(
      `ThingName ${JSON.stringify(name)} does not match AllowedThingNamePattern ${JSON.stringify(d.allowedPattern)}`,
    );
  }
  const certs = await thingCertificates(d.iot, name);
  if (certs === null) return 'new thing';
  if (certs.includes(event.certificateId)) return 'retry: the thing already holds this certificate';
  const active: string[] = [];
  for (const id of certs) if (await isActive(d.iot, id)) active.push(id);
  if (active.length === 0) return 'the thing holds no active certificate';
  if (await coreDeviceKnown(d.gg, name)) {
    throw new Refused(
      `thing ${name} is held by a working core (active certificate ${active[0]!.slice(0, 12)}..., ` +
        'core device reported); decommission it before reusing the name',
    );
  }
  return "the thing's active certificate never showed up as a core device";
}

export function createHandler(o: HookOptions = {}): (event: HookEvent) => Promise<HookAnswer> {
  const d: HookDeps = {
    ...o,
    iot: new IoTClient({ ...o.clientConfig }),
    gg: new GreengrassV2Client({ ...o.clientConfig }),
  };
  const log = d.log ?? ((line) => console.log(JSON.stringify(line)));
  return async (event) => {
    // Never the certificate PEM in the log: the names and ids say what happened.
    const who = {
      thingName: event?.parameters?.ThingName,
      certificateId: event?.certificateId,
      clientId: event?.clientId,
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no decision within ${d.deadlineMs ?? 4000} ms`)),
        d.deadlineMs ?? 4000,
      );
    });
    try {
      const why = await Promise.race([decide(event, d), deadline]);
      log({ ...who, allowProvisioning: true, why });
      return { allowProvisioning: true };
    } catch (err) {
      const refused = err instanceof Refused;
      log({
        ...who,
        allowProvisioning: false,
        why: refused ? err.message : `error: ${errorName(err) || 'Error'}: ${(err as Error)?.message}`,
      });
      return { allowProvisioning: false };
    } finally {
      clearTimeout(timer);
    }
  };
}

let lambdaHandler: ((event: HookEvent) => Promise<HookAnswer>) | undefined;

/** The Lambda entry point: clients from the runtime's environment (region, credentials), made once. */
export async function handler(event: HookEvent): Promise<HookAnswer> {
  lambdaHandler ??= createHandler({
    clientConfig: { maxAttempts: 2 },
    allowedPattern: process.env.ALLOWED_THING_NAME_PATTERN || undefined,
  });
  return lambdaHandler(event);
}
