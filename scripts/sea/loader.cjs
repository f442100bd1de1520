// Main script of the single executable (Node SEA): runs the agent bundle (SEA asset agent.cjs) with the V8
// code cache trained at build time (asset agent.cache, made by scripts/sea/train.ts). Node's own SEA code
// cache (useCodeCache) is made by compiling without running, so it holds only top-level code; every
// function the agent calls is still compiled on first use. A cache taken after running the agent's
// commands holds those too. V8 rejects a cache made under other V8 flags (NODE_OPTIONS=--max-semi-space-size
// and the like); then the bundle is compiled as usual: slower, same behaviour.
// Both assets are read in place (getRawAsset: no copy, V8 only reads them), because each copy costs page
// faults, which are expensive in a VM:
// - agent.cjs is the bundle already wrapped by module.wrap() at build time, the source scripts/sea/train.ts
//   compiles (V8 checks the source length). It is ASCII (the build checks), so latin1 decodes it exactly;
//   getAsset(…, 'utf8') would copy it once more before decoding.
// - agent.cache: its first byte is the number of bytes before the cache, which scripts/build.mjs chooses so
//   that the cache is 8-byte aligned (V8 copies an unaligned one); the asset is the cache plus 8 bytes.
'use strict';
const { getRawAsset } = require('node:sea');
const { Script } = require('node:vm');

const filename = `${process.execPath}/agent.cjs`;
const source = Buffer.from(getRawAsset('agent.cjs')).toString('latin1');
const cacheAsset = getRawAsset('agent.cache');
const pad = new Uint8Array(cacheAsset, 0, 1)[0];
const script = new Script(source, { filename, cachedData: Buffer.from(cacheAsset, pad, cacheAsset.byteLength - 8) });
// For a person (and the tests) asking whether this CPU and these V8 flags let the cache be used.
if (process.env.GREENGRASS_FIRSTBOOT_REPORT_CODE_CACHE) process.stderr.write(`code cache ${script.cachedDataRejected ? 'rejected' : 'accepted'}\n`);
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, require, mod, filename, require('node:path').dirname(process.execPath));
