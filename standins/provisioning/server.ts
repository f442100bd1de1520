// STAND-IN for the AWS IoT side of fleet provisioning by claim (the MQTT "device provisioning API"), over MQTT 3.1.1
// or MQTT 5 with client certificates (broker.ts). Answers the request/response pairs the FleetProvisioningByClaim
// plugin and AWS's SDK samples use:
//   $aws/certificates/create/json                           -> .../accepted | .../rejected
//   $aws/certificates/create-from-csr/json                  -> .../accepted | .../rejected
//   $aws/provisioning-templates/<name>/provision/json       -> .../accepted | .../rejected
// Replies go only to the connection that asked (like AWS IoT), and only if it subscribed first. What it knows
// (certificates, tokens, Things) lives in registry.ts and survives a restart on the same records file.
// Facts: docs/facts/provisioning-mqtt.md.
import { X509Certificate, randomBytes } from 'node:crypto';
import { Registry, tokenHash, type Registration, type Takeover } from './registry.ts';
import { startBroker, type Broker, type Conn, type Refusal } from './broker.ts';
import { isAllowed, type IotAction, type PolicyInput } from './policy.ts';
import { CsrError, issueCertificate, signCsr, type KeyPair } from '../pki.ts';
import { validateThingName, ThingNameError } from '../../common/thing-name.ts';
import { createFastIssuer } from './fast-issuer.ts';
import { createRateLimiter, type RateLimiterKind } from './rate-limiter.ts';
import {
  askPreProvisioningHook,
  HOOK_DENIED,
  type PreProvisioningHook,
  type PreProvisioningHookAnswer,
} from './pre-provisioning-hook.ts';

export interface ProvisioningStandinOptions {
  ca: KeyPair;
  host?: string /* 127.0.0.1 */;
  port?: number /* 0 = random */;
  templateName: string;
  requiredParameters?: string[];
  defaultThingGroup?: string;
  /** Throttle RegisterThing to this many calls per second (answering 429 ThrottlingException), see rate-limiter.ts. */
  ratePerSecond?: number;
  /** The throttle's algorithm (default 'token-bucket') and, for the token bucket, its size (default max(1, R)). */
  rateLimiter?: RateLimiterKind;
  rateBurst?: number;
  serverAltNames?: { dns?: string[]; ip?: string[] };
  /** Append JSON lines of events. Registrations found in it at start are loaded, so a restarted stand-in remembers its Things. */
  recordsFile?: string;
  /** Lifetime of a certificateOwnershipToken (AWS: 1 hour). Shorter only to test expiry. */
  tokenTtlSeconds?: number;
  /**
   * How device certificates are made: 'openssl' (default, the openssl CLI per certificate, ~4/s under load) or
   * 'in-process' (opt-in, standins/provisioning/fast-issuer.ts: node:crypto key + DER signing, ~1.7 ms; for fleet benchmarks).
   * The openssl issuer hands out what AWS does, RSA 2048 with a PKCS#1 key; the in-process one keeps EC P-256 keys,
   * as one RSA 2048 key costs ~0.6 s of CPU here and would make the stand-in, not the throttle, the fleet's limit.
   */
  deviceCertificateIssuer?: 'openssl' | 'in-process';
  /**
   * The template's Thing resource names the Thing with this prefix before the ThingName parameter
   * (`"ThingName": {"Fn::Join": ["", ["<prefix>", {"Ref": "ThingName"}]]}`); RegisterThing answers that name.
   */
  thingNamePrefix?: string;
  /** The template's pre-provisioning hook, called as AWS IoT calls the Lambda (see pre-provisioning-hook.ts). */
  preProvisioningHook?: PreProvisioningHook;
  /** templateArn the hook is told (default arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/<templateName>). */
  templateArn?: string;
  /**
   * The template's OverrideSettings for its Thing resource, applied when the Thing already exists (IoT guide,
   * provisioning templates): REPLACE (the stack's template; default), MERGE and DO_NOTHING accept the registration
   * and attach the new certificate to the existing Thing, FAIL rejects it with ResourceConflictsException.
   * They differ in what happens to the Thing's group memberships.
   */
  thingOverride?: 'REPLACE' | 'MERGE' | 'DO_NOTHING' | 'FAIL';
  /**
   * The thing groups that exist in the account, read at each RegisterThing (a function sees groups created later).
   * RegisterThing naming another group is rejected, as on AWS. Not given: every group name is taken to exist.
   */
  thingGroups?: Iterable<string> | (() => Iterable<string>);
  /**
   * The IoT policies the stack attaches: `claim` to the claim certificate, `core(thingName)` to a device
   * certificate registered for that Thing. Given, every Connect/Publish/Subscribe/Receive is checked (policy.ts).
   */
  policies?: { claim: PolicyInput; core(thingName: string): PolicyInput };
  /**
   * The account's registry outside this process (the AWS stand-in): told of every accepted registration (with the
   * certificate and the per-core policy the template creates) and of every core status a nucleus publishes, as
   * AWS's own services write them into the account.
   */
  account?: {
    registered(r: Registration & { certificatePem: string; thingGroups: string[] }): void;
    coreStatus(thingName: string, status: Record<string, unknown>): void;
  };
  /** Region and account of the ARNs in the policies' resources (default us-east-1, 123456789012). */
  region?: string;
  accountId?: string;
}

export type { Registration, Takeover } from './registry.ts';

export interface Rejection {
  topic: string;
  errorCode: string;
  errorMessage: string;
  at: string;
}

export interface ProvisioningStandin {
  host: string;
  port: number;
  registrations: Registration[];
  rejections: Rejection[];
  /**
   * RegisterThing calls that named a Thing already holding another ACTIVE certificate, accepted as AWS does with
   * the template's OverrideSettings REPLACE: the new certificate is attached beside the old one.
   */
  takeovers: Takeover[];
  /** The certificates attached to a Thing (several after a takeover); [] for a Thing that does not exist. */
  principalsOf(thingName: string): string[];
  certificatesIssued: number;
  /**
   * Test hook: a RegisterThing whose template parameters this accepts is never answered, as if the reply was lost
   * with the power; its ThingName goes to `held`. Nothing is registered for it.
   */
  holdRegisterThing: ((parameters: Record<string, string>) => boolean) | null;
  held: string[];
  stop(): Promise<void>;
}

export const CREATE_TOPIC = '$aws/certificates/create/json';
export const CSR_TOPIC = '$aws/certificates/create-from-csr/json';
/** Where the nucleus's FleetStatusService publishes (nucleus FleetStatusService.java, DEFAULT_FLEET_STATUS_SERVICE_PUBLISH_TOPIC). */
const HEALTH_RE = /^\$aws\/things\/([a-zA-Z0-9:_-]{1,128})\/greengrassv2\/health\/json$/;
export function provisionTopic(templateName: string): string {
  return `$aws/provisioning-templates/${templateName}/provision/json`;
}
const PROVISION_RE = /^\$aws\/provisioning-templates\/([^/]+)\/provision\/json$/;
const GROUP_RE = /^[a-zA-Z0-9:_-]{1,128}$/;

export { topicMatches } from './broker.ts';

function fingerprintId(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
}

export async function startProvisioningStandin(o: ProvisioningStandinOptions): Promise<ProvisioningStandin> {
  if (!o.templateName || !/^[0-9A-Za-z_-]{1,36}$/.test(o.templateName)) {
    throw new Error(
      `provisioning stand-in: templateName ${JSON.stringify(o.templateName)} is not a valid template name ([0-9A-Za-z_-], 1-36)`,
    );
  }
  if (o.ratePerSecond === undefined && (o.rateLimiter !== undefined || o.rateBurst !== undefined))
    throw new Error('provisioning stand-in: rateLimiter and rateBurst need ratePerSecond');
  const limiter =
    o.ratePerSecond === undefined
      ? undefined
      : createRateLimiter({ ratePerSecond: o.ratePerSecond, kind: o.rateLimiter, burst: o.rateBurst });
  if (o.defaultThingGroup !== undefined && !GROUP_RE.test(o.defaultThingGroup)) {
    throw new Error(
      `provisioning stand-in: defaultThingGroup ${JSON.stringify(o.defaultThingGroup)} is not a valid thing group name`,
    );
  }
  const host = o.host ?? '127.0.0.1';
  const requiredParameters = o.requiredParameters ?? ['ThingName'];
  const tokenTtlMs = (o.tokenTtlSeconds ?? 3600) * 1000;

  const serverCert = issueCertificate(o.ca, {
    commonName: 'provisioning stand-in',
    serverAuth: true,
    altNames: {
      dns: [...new Set(['localhost', ...(o.serverAltNames?.dns ?? [])])],
      ip: [...new Set(['127.0.0.1', '10.0.2.2', ...(o.serverAltNames?.ip ?? [])])],
    },
  });

  const groupsOption = o.thingGroups;
  const existingGroups = (): Set<string> =>
    new Set(typeof groupsOption === 'function' ? groupsOption() : (groupsOption ?? []));
  const registrations: Registration[] = [];
  const rejections: Rejection[] = [];
  const takeovers: Takeover[] = [];
  const registry = new Registry(o.recordsFile);
  registry.replay(); // a restarted stand-in knows its certificates (PENDING or ACTIVE), tokens and Things
  const record = (event: Record<string, unknown>): void => registry.record(event);
  const fastIssuer = o.deviceCertificateIssuer === 'in-process' ? createFastIssuer(o.ca) : undefined;

  const state: ProvisioningStandin = {
    host,
    port: 0,
    registrations,
    rejections,
    takeovers,
    principalsOf: (thingName) => [...(registry.things.get(thingName)?.certificateIds ?? [])],
    certificatesIssued: 0,
    holdRegisterThing: null,
    held: [],
    stop: async () => undefined,
  };

  // Assigned once the broker has started; the handlers defined before it reach it through this binding.
  // eslint-disable-next-line prefer-const
  let broker: Broker | undefined;
  const reply = (conn: Conn, topic: string, body: unknown): boolean => broker?.reply(conn, topic, body) ?? false;

  const reject = (
    conn: Conn,
    requestTopic: string,
    statusCode: number,
    errorCode: string,
    errorMessage: string,
  ): void => {
    const at = new Date().toISOString();
    rejections.push({ topic: requestTopic, errorCode, errorMessage, at });
    record({ event: 'rejection', topic: requestTopic, statusCode, errorCode, errorMessage, clientId: conn.clientId });
    reply(conn, `${requestTopic}/rejected`, { statusCode, errorCode, errorMessage });
  };

  const createKeysAndCertificate = (conn: Conn, topic: string): void => {
    let kp: KeyPair;
    try {
      kp = fastIssuer
        ? fastIssuer.issue('AWS IoT Certificate', 365 * 30)
        : issueCertificate(o.ca, { commonName: 'AWS IoT Certificate', days: 365 * 30, keyType: 'rsa' });
    } catch (err) {
      reject(conn, topic, 500, 'InternalFailure', `could not issue a certificate: ${(err as Error).message}`);
      return;
    }
    const issued = pending(conn, kp.certificatePem);
    reply(conn, `${topic}/accepted`, { ...issued, certificatePem: kp.certificatePem, privateKey: kp.privateKeyPem });
  };

  /** A new certificate is PENDING_ACTIVATION with a one-hour ownership token until RegisterThing (MQTT API guide). */
  type Pending = { certificateId: string; certificateOwnershipToken: string };
  const pending = (conn: Conn, certificatePem: string): Pending => {
    const certificateId = fingerprintId(certificatePem);
    issuedPems.set(certificateId, certificatePem);
    const token = randomBytes(32).toString('base64url');
    registry.issued(certificateId, token, conn.peerFingerprint, Date.now() + tokenTtlMs, conn.clientId);
    state.certificatesIssued++;
    return { certificateId, certificateOwnershipToken: token };
  };

  /** The device keeps its own key: only the CSR travels, the reply has no private key. */
  const createCertificateFromCsr = (conn: Conn, topic: string, payload: Buffer): void => {
    let csr: unknown;
    try {
      csr = (JSON.parse(payload.toString('utf8')) as { certificateSigningRequest?: unknown }).certificateSigningRequest;
    } catch {
      reject(conn, topic, 400, 'InvalidPayload', 'The request payload is not a JSON object');
      return;
    }
    if (typeof csr !== 'string' || !csr) {
      reject(conn, topic, 400, 'InvalidPayload', 'certificateSigningRequest is missing');
      return;
    }
    let certificatePem: string;
    try {
      certificatePem = signCsr(o.ca, csr);
    } catch (err) {
      if (!(err instanceof CsrError)) throw err;
      reject(conn, topic, 400, 'InvalidCsr', err.message);
      return;
    }
    reply(conn, `${topic}/accepted`, { ...pending(conn, certificatePem), certificatePem });
  };

  const issuedPems = new Map<string, string>();
  /** `hooked`: the hook's answer when this is the second pass, after the pre-provisioning hook allowed it. */
  const registerThing = (
    conn: Conn,
    topic: string,
    templateName: string,
    payload: Buffer,
    hooked?: PreProvisioningHookAnswer,
  ): void => {
    const now = Date.now();
    if (!hooked && limiter && !limiter.tryTake(now)) {
      reject(conn, topic, 429, 'ThrottlingException', 'Rate exceeded');
      return;
    }
    if (templateName !== o.templateName) {
      reject(conn, topic, 404, 'ResourceNotFoundException', `The provisioning template ${templateName} does not exist`);
      return;
    }
    let body: { certificateOwnershipToken?: unknown; parameters?: unknown };
    try {
      body = JSON.parse(payload.toString('utf8') || '{}') as typeof body;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    } catch {
      reject(conn, topic, 400, 'InvalidPayload', 'The request payload is not a JSON object');
      return;
    }
    const tokenValue = body.certificateOwnershipToken;
    const tokHash = typeof tokenValue === 'string' ? tokenHash(tokenValue) : '';
    const tok = registry.tokens.get(tokHash);
    if (typeof tokenValue !== 'string' || tokenValue === '') {
      reject(conn, topic, 400, 'InvalidCertificateOwnershipToken', 'certificateOwnershipToken is missing');
      return;
    }
    if (!tok) {
      reject(conn, topic, 400, 'InvalidCertificateOwnershipToken', 'The certificate ownership token is not valid');
      return;
    }
    if (tok.used) {
      reject(
        conn,
        topic,
        400,
        'InvalidCertificateOwnershipToken',
        'The certificate ownership token has already been used',
      );
      return;
    }
    if (tok.expiresAt <= now) {
      reject(conn, topic, 400, 'InvalidCertificateOwnershipToken', 'The certificate ownership token has expired');
      return;
    }
    if (tok.claimFingerprint !== conn.peerFingerprint) {
      reject(
        conn,
        topic,
        403,
        'InvalidCertificateOwnershipToken',
        'The certificate ownership token was not issued to this client certificate',
      );
      return;
    }
    const rawParams = body.parameters ?? {};
    if (typeof rawParams !== 'object' || rawParams === null || Array.isArray(rawParams)) {
      reject(conn, topic, 400, 'InvalidParameters', 'parameters must be a JSON object of strings');
      return;
    }
    const parameters: Record<string, string> = {};
    for (const [k, v] of Object.entries(rawParams as Record<string, unknown>)) {
      if (typeof v === 'object' && v !== null) {
        reject(conn, topic, 400, 'InvalidParameters', `parameter ${k} must be a string`);
        return;
      }
      parameters[k] = String(v);
    }
    const missing = requiredParameters.filter((p) => parameters[p] === undefined || parameters[p] === '');
    if (missing.length) {
      reject(conn, topic, 400, 'InvalidParameters', `Missing required template parameter(s): ${missing.join(', ')}`);
      return;
    }
    if (parameters.ThingName === undefined) {
      reject(conn, topic, 400, 'InvalidParameters', 'The template needs a ThingName parameter to create a Thing');
      return;
    }
    if (o.preProvisioningHook && !hooked) {
      const event = {
        claimCertificateId: conn.peerFingerprint.replace(/:/g, '').toLowerCase(),
        certificateId: tok.certificateId,
        certificatePem: issuedPems.get(tok.certificateId) ?? '',
        templateArn: o.templateArn ?? `arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/${templateName}`,
        clientId: conn.clientId ?? '',
        parameters: { ...parameters },
      };
      void askPreProvisioningHook(o.preProvisioningHook, event).then((answer) => {
        if (answer.allowProvisioning) registerThing(conn, topic, templateName, payload, answer);
        else reject(conn, topic, HOOK_DENIED.statusCode, HOOK_DENIED.errorCode, HOOK_DENIED.errorMessage);
      });
      return;
    }
    Object.assign(parameters, hooked?.parameterOverrides);
    if (state.holdRegisterThing?.(parameters)) {
      state.held.push(parameters.ThingName);
      record({ event: 'held', thingName: parameters.ThingName });
      return;
    }
    const thingName = (o.thingNamePrefix ?? '') + parameters.ThingName;
    try {
      validateThingName(thingName);
    } catch (err) {
      if (err instanceof ThingNameError) {
        reject(conn, topic, 400, 'InvalidParameters', err.message);
        return;
      }
      throw err;
    }
    const thingGroupName = parameters.ThingGroupName ?? o.defaultThingGroup;
    if (thingGroupName !== undefined && !GROUP_RE.test(thingGroupName)) {
      reject(
        conn,
        topic,
        400,
        'InvalidParameters',
        `ThingGroupName ${JSON.stringify(thingGroupName)} is not a valid thing group name`,
      );
      return;
    }
    if (thingGroupName !== undefined && o.thingGroups && !existingGroups().has(thingGroupName)) {
      // The template adds the Thing to an existing group; it does not create one (fleet-provisioning setup guide).
      reject(conn, topic, 400, 'ResourceRegistrationFailureException', `Thing group ${thingGroupName} does not exist`);
      return;
    }
    const reg: Registration = {
      thingName,
      certificateId: tok.certificateId,
      parameters,
      ...(thingGroupName !== undefined ? { thingGroupName } : {}),
      claimFingerprint: conn.peerFingerprint,
      at: new Date(now).toISOString(),
    };
    const existing = registry.things.get(thingName);
    const override = o.thingOverride ?? 'REPLACE';
    if (existing && override === 'FAIL') {
      const why = `Thing ${thingName} already exists and the template's OverrideSettings say FAIL`;
      reject(conn, topic, 409, 'ResourceConflictsException', why);
      return;
    }
    const requested = thingGroupName !== undefined ? [thingGroupName] : [];
    const groups =
      !existing || override === 'REPLACE'
        ? requested
        : override === 'MERGE'
          ? [...new Set([...existing.thingGroups, ...requested])]
          : existing.thingGroups;
    const others = registry.otherActiveCertificates(thingName, tok.certificateId);
    const takeover: Takeover | undefined = others.length
      ? {
          thingName,
          certificateId: tok.certificateId,
          previousCertificateIds: others,
          claimFingerprint: conn.peerFingerprint,
          at: reg.at,
        }
      : undefined;
    registry.registered(reg, tokHash, groups, takeover);
    registrations.push(reg);
    o.account?.registered({ ...reg, certificatePem: issuedPems.get(tok.certificateId) ?? '', thingGroups: groups });
    if (takeover) takeovers.push(takeover);
    reply(conn, `${topic}/accepted`, { thingName, deviceConfiguration: {} });
  };

  const onPublish = (conn: Conn, topic: string, payload: Buffer): void => {
    if (topic === CREATE_TOPIC) return createKeysAndCertificate(conn, topic);
    const m = PROVISION_RE.exec(topic);
    if (m) return registerThing(conn, topic, m[1] as string, payload);
    if (topic === CSR_TOPIC) return createCertificateFromCsr(conn, topic, payload);
    const health = HEALTH_RE.exec(topic);
    if (health) return coreStatus(health[1] as string, payload);
    if (topic.startsWith('$aws/')) return; // other reserved topics: nothing answers (not part of this stand-in)
    broker?.fanOut(topic, payload);
  };

  /** A nucleus's fleet status message: Greengrass records the core device from it (the policy allowed the publish). */
  const coreStatus = (thingName: string, payload: Buffer): void => {
    let status: unknown;
    try {
      status = JSON.parse(payload.toString('utf8'));
    } catch {
      return; // Greengrass drops what it cannot read
    }
    if (!status || typeof status !== 'object') return;
    record({
      event: 'core-status',
      thingName,
      overallDeviceStatus: (status as Record<string, unknown>).overallDeviceStatus,
    });
    o.account?.coreStatus(thingName, status as Record<string, unknown>);
  };

  /** A certificate this stand-in issued may only connect once RegisterThing activated it (AWS IoT semantics). */
  const admitConnect = (conn: Conn): Refusal | null => {
    const id = conn.peerFingerprint.replace(/:/g, '').toLowerCase();
    const issued = registry.certs.get(id);
    return issued && issued.status !== 'ACTIVE' ? { reason: `certificate ${id} is ${issued.status}` } : null;
  };

  /** The certificate's policies: the claim policy for a certificate this stand-in did not issue, else its Thing's. */
  const authorize = (conn: Conn, action: IotAction, name: string): boolean => {
    const policies = o.policies;
    if (!policies) return true;
    const certId = conn.peerFingerprint.replace(/:/g, '').toLowerCase();
    const clientId = conn.clientId ?? '';
    if (!registry.certs.has(certId)) {
      return isAllowed([policies.claim], action, name, { region, accountId, clientId });
    }
    const holder = [...registry.things.values()].find((th) => th.certificateIds.includes(certId));
    if (!holder) return false; // an issued certificate attached to no Thing has no policy
    const attached = registry.things.get(clientId)?.certificateIds.includes(certId) ?? false;
    const ctx = { region, accountId, clientId, ...(attached ? { thingName: clientId } : {}) };
    return isAllowed([policies.core(holder.thingName)], action, name, ctx);
  };
  const region = o.region ?? 'us-east-1';
  const accountId = o.accountId ?? '123456789012';

  broker = await startBroker({
    authorize,
    host,
    port: o.port ?? 0,
    key: serverCert.privateKeyPem,
    cert: serverCert.certificatePem,
    ca: o.ca.certificatePem,
    admitConnect,
    onPublish,
    record,
  });
  state.port = broker.port;
  record({ event: 'listening', host, port: state.port, templateName: o.templateName });

  let stopped = false;
  state.stop = async () => {
    if (stopped) return;
    stopped = true;
    await broker?.close();
    record({ event: 'stopped' });
  };
  return state;
}
