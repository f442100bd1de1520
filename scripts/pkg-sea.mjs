#!/usr/bin/env node
// Run by scripts/build.mjs under a Node >= 22 (pkg itself runs on nothing older): makes the agent executable with
// @yao-pkg/pkg's SEA mode from ONE JavaScript file and the Node binary named by `nodePath`, the local one.
// pkg's `--sea` command line takes no Node path (it downloads one per target), so its SEA function is called
// with the options its source declares: `nodePath` (the binary copied into the executable, which also makes the
// blob) and `seaConfig` (Node's sea-config, here with the code cache). See docs/agent.md, "How it is built".
// Argument: one JSON object {entry, output, nodePath, target: {nodeRange, platform, arch}, useCodeCache}.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { default: sea } = require('@yao-pkg/pkg/lib-es5/sea.js');

const job = JSON.parse(process.argv[2] ?? '');
await sea(job.entry, {
  targets: [{ ...job.target, output: job.output }],
  nodePath: job.nodePath,
  signature: false, // only macOS executables are signed
  seaConfig: {
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: job.useCodeCache,
  },
});
