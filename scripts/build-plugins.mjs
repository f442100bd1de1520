// The esbuild plugins of scripts/build.mjs that keep work out of the agent's start-up: each replaces, in
// the bundle only, a piece of a dependency that costs time on every start for nothing the agent uses.
// Every stand-in behaves as the original for the agent's uses; tests: test/scripts/*-standins.test.ts.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// yargs' string-width makes an Intl.Segmenter at module load, which initialises ICU's break iterator
// on every run. This stand-in makes the real one on first use and splits printable ASCII itself (one
// grapheme per character, exact for that range).
export const LAZY_SEGMENTER = `var __gg_LazySegmenter = class {
  constructor(...a) { this.a = a; }
  segment(s) {
    if (/^[\\x20-\\x7e]*$/.test(s)) return Array.from(s, (segment, index) => ({ segment, index, input: s }));
    return (this.s ??= new Intl.Segmenter(...this.a)).segment(s);
  }
};`;

// string-width measures every help-text cell character by character, testing each against the emoji
// regex (~20 ms for --help). Printable ASCII (our help text) is one column per character, so each copy
// of string-width is wrapped with that fast path; anything else goes to the real one, which is loaded
// on first use: its module builds \p{RGI_Emoji} and other Unicode-property regexes at load, ~25 ms of
// every start otherwise.
export const asciiStringWidth = {
  name: 'ascii-string-width',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData === 'real') return undefined;
      const real = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: 'real' });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: 'ascii-string-width' };
    });
    b.onLoad({ filter: /.*/, namespace: 'ascii-string-width' }, (args) => ({
      resolveDir: dirname(args.path),
      contents: `let real;
export default function stringWidth(s, options) {
  if (typeof s === 'string' && /^[\\x20-\\x7e]*$/.test(s)) return s.length;
  real ??= require(${JSON.stringify(args.path)}).default;
  return real(s, options);
}`,
    }));
  },
};

// node:assert is not loaded at start-up (~5 ms): dependencies that import it for checks that pass get a
// stand-in, scripts/sea/assert-lazy.cjs (sonic-boom, thread-stream) or scripts/sea/assert-yargs.mjs
// (yargs' platform shim, which also fails a check on purpose on every start). Each file says why.
export const lazyAssert = {
  name: 'lazy-assert',
  setup(b) {
    b.onResolve({ filter: /^(node:)?assert$/ }, (args) => {
      if (/[\\/]node_modules[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]/.test(args.importer)) return { path: join(root, 'scripts', 'sea', 'assert-yargs.mjs') };
      if (/[\\/]node_modules[\\/](sonic-boom|thread-stream)[\\/]/.test(args.importer)) return { path: join(root, 'scripts', 'sea', 'assert-lazy.cjs') };
      return undefined;
    });
  },
};

// yargs' platform shim reads process.stdout.columns when it loads, which makes process.stdout (a net.Socket
// under systemd). yargs needs that width only to wrap help when no width is set, and the CLI sets one: the
// property becomes a getter with the same value. The build fails if a yargs update changes the line.
export const lazyColumns = {
  name: 'lazy-columns',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const eager = "stdColumns: typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null";
      if (!src.includes(eager)) return { errors: [{ text: `lazy-columns: ${args.path} no longer reads: ${eager}` }] };
      return { contents: src.replace(eager, `get stdColumns() { return ${eager.slice('stdColumns: '.length)}; }`), loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

// yargs() registers --version with a version it guesses by searching upward from the executable for a
// package.json (a readdir per directory up to /, on every start). The CLI sets the version itself
// (.version(AGENT_VERSION)), which replaces the guess, so the bundle's yargs() skips guessing. The build
// fails if a yargs update changes the line.
export const noVersionGuess = {
  name: 'no-version-guess',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]yargs[\\/]build[\\/]lib[\\/]yargs-factory\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const guess = 'yargs.help();\n        yargs.version();\n';
      if (!src.includes(guess)) return { errors: [{ text: `no-version-guess: ${args.path} no longer reads: ${JSON.stringify(guess)}` }] };
      return { contents: src.replace(guess, 'yargs.help();\n'), loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

// execa loads, at start-up, modules it needs only to describe a failure or print verbose output: the table
// of signal descriptions (human-signals), status icons (figures), and node:v8 for IPC serialisation (the
// agent passes no ipc option). Each becomes a stand-in whose exports load the real module on first use:
// objects as proxies, functions as wrappers.
export const LAZY_FOR_EXECA = {
  'human-signals': { signalsByName: 'object', signalsByNumber: 'object' },
  figures: { default: 'object' },
  'node:v8': { serialize: 'function' },
};
export const lazyForExeca = {
  name: 'lazy-for-execa',
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(LAZY_FOR_EXECA).join('|')})$`);
    b.onResolve({ filter }, async (args) => {
      if (args.pluginData === 'real' || !/[\\/]node_modules[\\/]execa[\\/]/.test(args.importer)) return undefined;
      const real = args.path.startsWith('node:') ? args.path : (await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: 'real' })).path;
      return { path: args.path, namespace: 'lazy-for-execa', pluginData: real };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-for-execa' }, (args) => {
      const lines = [
        'let real;',
        `const load = () => (real ??= require(${JSON.stringify(args.pluginData)}));`,
        'const lazyObject = (name) => new Proxy({}, {',
        '  get: (_, k) => Reflect.get(load()[name], k),',
        '  has: (_, k) => Reflect.has(load()[name], k),',
        '  ownKeys: () => Reflect.ownKeys(load()[name]),',
        '  getOwnPropertyDescriptor: (_, k) => { const d = Reflect.getOwnPropertyDescriptor(load()[name], k); return d && { ...d, configurable: true }; },',
        '});',
      ];
      for (const [name, kind] of Object.entries(LAZY_FOR_EXECA[args.path])) {
        const value = kind === 'function' ? `(...a) => load()[${JSON.stringify(name)}](...a)` : `lazyObject(${JSON.stringify(name)})`;
        lines.push(name === 'default' ? `export default ${value};` : `export const ${name} = ${value};`);
      }
      return { contents: lines.join('\n'), resolveDir: root, loader: 'js' };
    });
  },
};

// execa's list of the three standard streams is made lazily (scripts/sea/execa-standard-stream.mjs says why).
export const lazyStdio = {
  name: 'lazy-stdio',
  setup(b) {
    b.onResolve({ filter: /[\\/]utils[\\/]standard-stream\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]execa[\\/]lib[\\/]/.test(args.importer) ? { path: join(root, 'scripts', 'sea', 'execa-standard-stream.mjs') } : undefined,
    );
  },
};

/** All of them, in the order the build applies them. */
export const startupTrims = [asciiStringWidth, lazyAssert, lazyStdio, lazyColumns, noVersionGuess, lazyForExeca];
