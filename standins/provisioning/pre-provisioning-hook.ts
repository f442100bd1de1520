// How the provisioning stand-in calls a template's pre-provisioning hook, as AWS IoT calls the Lambda
// (IoT guide, "Pre-provisioning hooks"; docs/pre-provisioning-hook.md): with the RegisterThing request
// after its token and parameters were checked and before anything is registered; only an answer
// `allowProvisioning: true` within 5 s lets it go on, and parameterOverrides are merged into the
// parameters. A refusal, a throw or no answer in time fails the request with ACCESS_DENIED.

import type { HookAnswer, HookEvent } from '../../cloudformation/pre-provisioning-hook/handler.ts';

/** The input AWS IoT gives the hook and its answer: one definition, the hook's own (payload version 2020-04-01). */
export type PreProvisioningHookEvent = HookEvent;
export type PreProvisioningHookAnswer = HookAnswer;

export type PreProvisioningHook = (event: PreProvisioningHookEvent) => Promise<PreProvisioningHookAnswer>;

/** IoT waits this long for the hook (IoT guide: the function must return within 5 seconds). */
export const HOOK_TIMEOUT_MS = 5000;

/**
 * The `/rejected` reply to a refused request. AWS documents only that the request fails with
 * ACCESS_DENIED; these exact statusCode/errorCode/errorMessage values are the stand-in's choice.
 */
export const HOOK_DENIED = {
  statusCode: 403,
  errorCode: 'AccessDenied',
  errorMessage: 'ACCESS_DENIED: pre-provisioning hook denied the request',
} as const;

/** The hook's answer; a throw, a malformed answer or none within `timeoutMs` counts as a refusal. */
export async function askPreProvisioningHook(
  hook: PreProvisioningHook,
  event: PreProvisioningHookEvent,
  timeoutMs = HOOK_TIMEOUT_MS,
): Promise<PreProvisioningHookAnswer> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<PreProvisioningHookAnswer>((resolve) => {
    timer = setTimeout(() => resolve({ allowProvisioning: false }), timeoutMs);
  });
  try {
    const answer = await Promise.race([hook(event), late]);
    if (answer?.allowProvisioning !== true) return { allowProvisioning: false };
    const overrides = answer.parameterOverrides;
    if (overrides === undefined) return { allowProvisioning: true };
    if (!overrides || typeof overrides !== 'object' || Object.values(overrides).some((v) => typeof v !== 'string'))
      return { allowProvisioning: false };
    return { allowProvisioning: true, parameterOverrides: overrides };
  } catch {
    return { allowProvisioning: false };
  } finally {
    clearTimeout(timer);
  }
}
