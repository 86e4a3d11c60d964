// What every bundle of this package is built with (scripts/build.mjs), and the benchmark's
// SDK-only client (scripts/bench.mjs): esbuild options and the plugins that keep start-up lean.
import { readFileSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Builtins that only some paths use (https for an https endpoint, child_process for commander's
 * executable subcommands, crypto for hashes the boot path never computes, fs/promises for the
 * SDK's reader of ~/.aws/config, which an explicit endpoint never calls) load on first use
 * instead of at start-up: each costs milliseconds. esbuild's interop enumerates a module's keys
 * and descriptors when it is imported, so the stand-in answers those from a list taken at build
 * time and loads the real module only when a value is read.
 */
const lazyNames = ['https', 'child_process', 'crypto', 'fs/promises']
export const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(node:)?(${lazyNames.join('|')})$`) }, (args) =>
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' },
    )
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async (args) => {
      const real = await import(`node:${args.path}`)
      const keys = Object.keys(real).filter((k) => k !== 'default')
      const functions = keys.filter((k) => typeof real[k] === 'function')
      return {
        loader: 'js',
        contents: `let m; const load = () => (m ??= require('node:${args.path}')); const keys = ${JSON.stringify(keys)};
// Functions read at import time (crypto.getRandomValues in the AWS SDK) become stand-ins that load on first call.
const functions = new Set(${JSON.stringify(functions)}); const wrappers = new Map();
const wrap = (p) => { if (!wrappers.has(p)) wrappers.set(p, function (...a) { return new.target ? Reflect.construct(load()[p], a, new.target) : load()[p].apply(this, a) }); return wrappers.get(p) };
module.exports = new Proxy({}, {
  get: (_, p) => (m ? m[p] : p === '__esModule' ? undefined : functions.has(p) ? wrap(p) : load()[p]),
  has: (_, p) => (m ? p in m : keys.includes(p)),
  ownKeys: () => (m ? Reflect.ownKeys(m) : keys),
  getOwnPropertyDescriptor: (_, p) => m ? { ...Object.getOwnPropertyDescriptor(m, p), configurable: true } : keys.includes(p) ? { configurable: true, enumerable: true, writable: true, value: undefined } : undefined,
});`,
      }
    })
  },
}

/**
 * The SDK's HTTP protocol code imports event streams on demand, which IMDS never uses; that one
 * dynamic import makes esbuild wrap the SDK's modules for lazy start-up and stop tree-shaking them.
 */
export const noEventStreams = {
  name: 'no-event-streams',
  setup(b) {
    b.onResolve({ filter: /event-streams/ }, (args) => (args.kind === 'dynamic-import' ? { path: 'event-streams', namespace: 'stub' } : undefined))
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export {}', loader: 'js' }))
  },
}

/**
 * Three spots where the SDK, used for IMDS over plain http, wakes parts of Node that it never uses
 * there; together about 6 ms of every boot (measured with --cpu-prof). Each patch keeps the code's
 * meaning, and the build fails if its text is gone, so an SDK update cannot drop one silently. The
 * test "the boot path loads no TLS, crypto or web streams" checks the result.
 */
const startupPatches = [
  {
    // Every NodeHttpHandler builds an https.Agent up front, which loads https, tls and crypto
    // (about 4 ms); built on first use instead, so only an https endpoint pays for it.
    file: /@smithy\/node-http-handler\/dist-es\/node-http-handler\.js$/,
    find: /httpsAgent: \(\(\) => \{([\s\S]*?)\}\)\(\),/,
    replace: (_, body) =>
      `get httpsAgent() { const agent = (() => {${body}})(); Object.defineProperty(this, "httpsAgent", { value: agent, enumerable: true, writable: true, configurable: true }); return agent; },`,
  },
  {
    // `typeof ReadableStream` reads Node's lazy global, which loads the web streams (about 1.5 ms)
    // to classify a plain http.IncomingMessage. A web stream has getReader; only then ask the global.
    file: /@smithy\/core\/dist-es\/submodules\/serde\/util-stream\/stream-type-check\.js$/,
    find: 'export const isReadableStream = (stream) => typeof ReadableStream === "function" &&',
    replace: 'export const isReadableStream = (stream) => typeof stream?.getReader === "function" && typeof ReadableStream === "function" &&',
  },
  {
    // A module-level uuid generator (for idempotency tokens IMDS never takes) reads the lazy global
    // `crypto`, which loads webcrypto; marked pure, it is dropped when nothing uses it.
    file: /@smithy\/core\/dist-es\/submodules\/serde\/index\.js$/,
    find: 'export const v4 = bindV4(_getRandomValues);',
    replace: 'export const v4 = /* @__PURE__ */ bindV4(_getRandomValues);',
  },
]
/** `requireAll`: the bundle holds the SDK, so every patch must have found its file. */
export const sdkStartupPatches = ({ requireAll }) => ({
  name: 'sdk-startup-patches',
  setup(b) {
    const applied = new Set()
    b.onLoad({ filter: /node_modules\/@smithy\/.*\.js$/ }, (args) => {
      const patches = startupPatches.filter((p) => p.file.test(args.path))
      if (patches.length === 0) return undefined
      let contents = readFileSync(args.path, 'utf8')
      for (const patch of patches) {
        const next = contents.replace(patch.find, patch.replace)
        if (next === contents) throw new Error(`sdk-startup-patches: ${args.path} no longer contains ${patch.find}; re-measure and update the patch`)
        contents = next
        applied.add(patch)
      }
      return { contents, loader: 'js', resolveDir: dirname(args.path) }
    })
    b.onEnd((result) => {
      if (result.errors.length > 0 || !requireAll) return
      const missing = startupPatches.filter((p) => !applied.has(p))
      if (missing.length > 0) throw new Error(`sdk-startup-patches: no bundled file matched ${missing.map((p) => p.file).join(', ')}`)
    })
  },
})

export const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  // CommonJS: Node starts a CommonJS entry measurably faster than an ES module one, on every boot.
  format: 'cjs',
  // The AWS SDK's ESM builds tree-shake to a fraction of its CommonJS ones.
  mainFields: ['module', 'main'],
  // import() becomes require(): a real dynamic import (the SDK's import('node:http')) would start
  // Node's ES module loader, milliseconds on every boot.
  supported: { 'dynamic-import': false },
  minify: process.env.IID_BUILD_NO_MINIFY !== '1',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  // install-command's fallback for running from source reads import.meta; the bundle never takes it.
  logOverride: { 'empty-import-meta': 'silent' },
}
