// The single executable and the packages, built once for a test run: `npm run package`'s script,
// under a lock (test files run in parallel) and only when the bundle is newer than the last build.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from './helpers.js'

export const packagesDir = join(repoRoot, 'dist', 'packages')
export const version: string = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version
/** The Node.js release the executable carries, as scripts/package/runtime.mjs pins it. */
export const pinnedNode = /nodeVersion = '([0-9.]+)'/.exec(readFileSync(join(repoRoot, 'scripts/package/runtime.mjs'), 'utf8'))![1]!

export const built = {
  executable: join(packagesDir, 'iid-docker-auth-linux-x64'),
  deb: join(packagesDir, `iid-docker-auth_${version}_amd64.deb`),
  rpm: join(packagesDir, `iid-docker-auth-${version}-1.x86_64.rpm`),
}

/** Builds dist/packages if stale (a few minutes the first time: two 100 MB payloads to compress). */
export function ensurePackages(): typeof built {
  execFileSync(
    'flock',
    [join(repoRoot, 'dist', '.package.lock'), process.execPath, join(repoRoot, 'scripts', 'package.mjs'), '--if-stale'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 600_000,
    },
  )
  return built
}

/**
 * The packaging and package boot tests need root and the Debian tools, and take minutes: they run
 * once per CI run, on the Node major the executable carries, not again on every other major.
 */
export const packageTestsHere = process.env['IID_PACKAGE_TESTS'] !== '0'
/** Where the packaging tests can run: root (or CI, which is), and not turned off for this run. */
export const canPackage = packageTestsHere && (process.env['CI'] === 'true' || process.geteuid?.() === 0)
