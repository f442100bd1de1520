// Replaced at build time by scripts/build.mjs (esbuild define); the dev fallback reads package.json.
declare const __AGENT_VERSION__: string | undefined;

export const AGENT_VERSION: string = typeof __AGENT_VERSION__ === 'string' ? __AGENT_VERSION__ : '0.0.0-dev';
