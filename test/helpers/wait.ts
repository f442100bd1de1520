// Polling for what a child process or a stand-in does in its own time (files appear, log lines, requests).

/** Resolves with `fn()`'s first truthy value, checked every 100 ms; rejects after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
