// Bundled in place of node:assert for sonic-boom and thread-stream (scripts/build.mjs, lazy-assert): they
// import it at load for `assert(value)` checks that pass. Loading node:assert costs ~5 ms of every start
// (its AssertionError's colour support creates process.stderr), so a passing check is decided here and
// node:assert is loaded only to throw its AssertionError, or for any other function.
'use strict';
let real;
const load = () => (real ??= require('node:assert'));
function assert(value, message) {
  if (!value) load().ok(value, message);
}
assert.ok = assert;
// The interop probes (__esModule, symbols) must not load it.
module.exports = new Proxy(assert, {
  get: (target, key) => (Object.hasOwn(target, key) ? target[key] : typeof key === 'string' && key !== '__esModule' ? load()[key] : undefined),
});
