// Bundled in place of node:assert for yargs' platform shim (scripts/build.mjs, lazy-assert). yargs uses a
// failing notStrictEqual as control flow on every start: it looks for a package.json above the working
// directory, asserts it found one, and catches the failure at once. With node:assert that loads the module
// (~5 ms) and builds an AssertionError each time. Same checks (Object.is); a failure throws a plain Error
// carrying node:assert's fields (code ERR_ASSERTION, actual, expected, operator, generatedMessage).
function failed(actual, expected, operator, message) {
  const what = operator === 'strictEqual' ? 'strictly equal to' : 'strictly unequal to';
  const err = new Error(message ?? `Expected ${String(actual)} to be ${what} ${String(expected)}`);
  return Object.assign(err, { code: 'ERR_ASSERTION', actual, expected, operator, generatedMessage: message === undefined });
}

export function strictEqual(actual, expected, message) {
  if (!Object.is(actual, expected)) throw failed(actual, expected, 'strictEqual', message);
}

export function notStrictEqual(actual, expected, message) {
  if (Object.is(actual, expected)) throw failed(actual, expected, 'notStrictEqual', message);
}
