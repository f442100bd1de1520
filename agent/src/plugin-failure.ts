// What a failed provisioning run means, read from what the real nucleus writes (docs/facts/nucleus-and-plugin.md):
// after "Caught exception while running provisioning plugin…" come the cause lines, where a /rejected reply shows
// as `…DeviceProvisioningRuntimeException: java.lang.RuntimeException: <errorMessage>` (statusCode and errorCode
// never reach the log). A refusal by AWS IoT's authorization, or by the template's pre-provisioning hook, names
// access denied there; retrying cannot change it. Everything else (throttling, whether answered or shown as a
// closed connection, timeouts, other rejections) may pass, and is retried.

/** A cause that says the registration was refused: a taken name (hook) or a policy that does not allow it. */
export const REFUSED_RE = /access.?denied|not authori[sz]ed/i;

/** Throttling, for the log and `status` only: it is retried like any other failure that is not a refusal. */
export const THROTTLED_RE = /Throttl|TooManyRequests|Rate exceeded|RequestLimitExceeded/i;

export type FailureKind = 'refused' | 'throttled' | 'failed';

export function classifyPluginFailure(reason: string): FailureKind {
  if (REFUSED_RE.test(reason)) return 'refused';
  if (THROTTLED_RE.test(reason)) return 'throttled';
  return 'failed';
}

/** The permanent error's text: what was refused, the two causes, what to do. */
export function refusedMessage(thingName: string, reason: string): string {
  return (
    `AWS IoT refused to register ${JSON.stringify(thingName)} (${reason}). Either the name is already registered to ` +
    'another core that has been seen working (the pre-provisioning hook refuses to hand its identity to a second ' +
    'machine), or the hook or the claim policy refuses this name. Give this machine a name of its own (its hostname, ' +
    'or thingName.source in the agent config) and run again; if the other core is gone for good, delete its Thing ' +
    'first. Claim kept, no sentinel written.'
  );
}
