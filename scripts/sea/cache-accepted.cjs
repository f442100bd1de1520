// node cache-accepted.cjs <bundle> <cache>: prints "true" if V8 in this (fresh) process accepts the code cache
// for the bundle compiled the way scripts/sea/loader.cjs compiles it, else "false". Used by the build and its test.
'use strict';
const { readFileSync } = require('node:fs');
const { wrap } = require('node:module');
const { Script } = require('node:vm');

const [bundle, cache] = process.argv.slice(2);
const script = new Script(wrap(readFileSync(bundle, 'utf8')), { cachedData: readFileSync(cache) });
process.stdout.write(String(!script.cachedDataRejected));
