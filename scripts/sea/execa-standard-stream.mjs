// Bundled in place of execa's lib/utils/standard-stream.js (scripts/build.mjs, lazy-stdio). execa's module
// lists [process.stdin, process.stdout, process.stderr] when it loads, and reading those properties makes
// all three streams: for a pipe or a socket (the journal, a test harness) a net.Socket over a libuv pipe,
// for /dev/null an fs stream. The agent gives the installer pipes of its own and writes with write(2)
// (agent/src/fd-write.ts), so it never needs them. Same exports; a standard stream is read only when
// execa is handed one.
import process from 'node:process';

export const STANDARD_STREAMS_ALIASES = ['stdin', 'stdout', 'stderr'];
export const getStreamName = (fdNumber) => STANDARD_STREAMS_ALIASES[fdNumber] ?? `stdio[${fdNumber}]`;

// process.stdX has fd X, so only a stream with fd 0-2 can be one of them.
export const isStandardStream = (stream) => {
  const fd = stream?.fd;
  return (fd === 0 || fd === 1 || fd === 2) && process[STANDARD_STREAMS_ALIASES[fd]] === stream;
};

let streams;
const list = () => (streams ??= [process.stdin, process.stdout, process.stderr]);
// `has` too: Array#indexOf skips indices the array does not have.
export const STANDARD_STREAMS = new Proxy([], {
  get: (_, key) => Reflect.get(list(), key),
  has: (_, key) => Reflect.has(list(), key),
});
