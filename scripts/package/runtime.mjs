// The Node.js release the single executable carries, pinned to one exact version: the newest
// Node 24 (LTS, maintained until April 2028) on the npm registry. Node 26's binary there (26.12.1)
// predates the November 2026 security release that 22.23.5 and 24.22.3 carry, is 23 MB larger
// and needs libatomic1, which minimal images lack. The integrity values are the registry's, so a
// tarball that changed under the same version is refused.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const nodeVersion = '24.22.3'
const integrity = {
  x64: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
  arm64: 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==',
}

/** Where fetched runtimes are kept between builds (outside the checkout, like the tests' cache). */
const cacheRoot = process.env.IID_BUILD_CACHE ?? '/var/tmp/iid-docker-auth-build'

/**
 * The directory holding bin/node and LICENSE of node-linux-<arch>@nodeVersion, fetched once with
 * `npm pack`, so that only the npm registry is reached.
 */
export function fetchNode(arch) {
  const dir = join(cacheRoot, `node-linux-${arch}-${nodeVersion}`)
  if (existsSync(join(dir, 'bin', 'node'))) return dir
  mkdirSync(cacheRoot, { recursive: true })
  const work = mkdtempSync(join(tmpdir(), 'iid-node-'))
  try {
    execFileSync('npm', ['pack', '--silent', `node-linux-${arch}@${nodeVersion}`], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] })
    const tarball = join(
      work,
      readdirSync(work).find((f) => f.endsWith('.tgz')),
    )
    const actual = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`
    if (actual !== integrity[arch])
      throw new Error(`package: node-linux-${arch}@${nodeVersion} has integrity ${actual}, not the pinned one`)
    execFileSync('tar', ['-xzf', tarball, '-C', work, 'package/bin/node', 'package/LICENSE'])
    rmSync(dir, { recursive: true, force: true })
    renameSync(join(work, 'package'), dir)
    return dir
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
