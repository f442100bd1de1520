// Main script of the single executable (Node SEA): runs the agent bundle (SEA asset agent.cjs) with the V8
// code cache trained at build time (asset agent.cache, made by scripts/sea/train.ts). Node's own SEA code
// cache (useCodeCache) is made by compiling without running, so it holds only top-level code; every
// function the agent calls is still compiled on first use. A cache taken after running the agent's
// commands holds those too. V8 rejects a cache made under other V8 flags (NODE_OPTIONS=--max-semi-space-size
// and the like); then the bundle is compiled as usual: slower, same behaviour.
// The asset agent.cjs is the bundle already wrapped by module.wrap() at build time, the source scripts/sea/train.ts
// compiles (V8 checks the source length). The cache is read in place (getRawAsset: no copy; V8 only reads it).
'use strict';
const { getAsset, getRawAsset } = require('node:sea');
const { Script } = require('node:vm');

const filename = `${process.execPath}/agent.cjs`;
const script = new Script(getAsset('agent.cjs', 'utf8'), { filename, cachedData: Buffer.from(getRawAsset('agent.cache')) });
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, require, mod, filename, require('node:path').dirname(process.execPath));
