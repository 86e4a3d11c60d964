// The single executable: the CLI bundled with every dependency inlined (a SEA's require() loads
// built-ins only), turned into a blob by the pinned Node and injected into a stripped copy of it.
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'
import { cliBundleOptions, root } from '../bundle-options.mjs'
import { fetchNode } from './runtime.mjs'

const work = join(root, 'dist', 'sea')
/** The fuse Node's SEA support looks for; postject flips it when it injects the blob. */
const fuse = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

/** The SEA's own bundle: the npm bundle's code, with __SEA__ set so --version and install know. */
export async function seaBundle() {
  mkdirSync(work, { recursive: true })
  const bundle = join(work, 'iid-docker-auth.cjs')
  await build(cliBundleOptions(bundle, { __SEA__: 'true' }))
  return bundle
}

/**
 * Builds dist/packages/iid-docker-auth-linux-<arch>. The code cache (V8's compiled bundle) is made
 * by running the pinned Node, so only for this machine's architecture; a foreign one compiles at start.
 */
export function buildExecutable(bundle, arch, outDir) {
  const node = join(fetchNode(arch), 'bin', 'node')
  const native = arch === (process.arch === 'x64' ? 'x64' : process.arch)
  const blob = join(work, `sea-${arch}.blob`)
  const config = join(work, `sea-config-${arch}.json`)
  writeFileSync(
    config,
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: native, useSnapshot: false }),
  )
  // The blob is made by the Node it runs in: the pinned one for a native build, whose code cache
  // must match; for a foreign architecture any Node of the same release would do, so this one.
  const maker = native ? node : join(fetchNode(process.arch), 'bin', 'node')
  execFileSync(maker, ['--experimental-sea-config', config], { stdio: 'pipe' })
  mkdirSync(outDir, { recursive: true })
  const out = join(outDir, `iid-docker-auth-linux-${arch}`)
  copyFileSync(node, out)
  chmodSync(out, 0o755)
  // Symbols and debug sections are most of the official binary; the host's strip knows only its
  // own architecture. Stripping after injection would drop the blob's note, so it comes first.
  if (native) execFileSync('strip', ['--strip-all', out], { stdio: 'pipe' })
  // Its warnings about Node's many ELF notes are noise; a failure still throws with its output.
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'postject', 'dist', 'cli.js'), out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', fuse],
    { stdio: 'pipe' },
  )
  return out
}
