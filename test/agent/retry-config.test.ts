// verify.retrySeconds: the one time budget for retrying failed provisioning. The keys it replaced are refused
// with a hint (exit 3 on a real run), and the worst case the unit must outlast follows the budget.
import t from 'tap';
import { DEFAULT_AGENT_CONFIG, resolveAgentConfig } from '../../agent/src/agent-config.ts';
import { worstCaseRunSeconds } from '../../agent/src/run-budget.ts';
import { ConfigError } from '../../common/errors.ts';

t.test('default budget and an explicit one', async (t) => {
  t.equal(resolveAgentConfig({}).verify.retrySeconds, 1800);
  t.equal(resolveAgentConfig({ verify: { retrySeconds: 90 } }).verify.retrySeconds, 90);
  t.throws(
    () => resolveAgentConfig({ verify: { retrySeconds: -1 } }),
    /verify\.retrySeconds must be a non-negative number/,
  );
});

t.test('the replaced keys are refused, naming verify.retrySeconds', async (t) => {
  for (const key of ['restarts', 'throttledRetrySeconds']) {
    const err = (() => {
      try {
        resolveAgentConfig({ verify: { [key]: 2 } });
      } catch (e) {
        return e;
      }
      return null;
    })();
    t.ok(err instanceof ConfigError, `verify.${key}: a configuration error`);
    t.match((err as Error).message, new RegExp(`verify\\.${key} is no longer read: .*verify\\.retrySeconds`));
  }
});

t.test("the run's worst case grows with the budget, second for second", async (t) => {
  const base = worstCaseRunSeconds(DEFAULT_AGENT_CONFIG);
  const more = worstCaseRunSeconds(resolveAgentConfig({ verify: { retrySeconds: 2800 } }));
  t.equal(more - base, 1000);
});
