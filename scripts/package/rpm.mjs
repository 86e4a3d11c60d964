// The .rpm: rpmbuild around the staged tree, with the spec in packaging/rpm and its own
// _topdir under dist/, so nothing reads or writes ~/rpmbuild or the machine's rpm database.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { root } from '../bundle-options.mjs'
import { maintainer, version } from './tree.mjs'

const rpmArch = { x64: 'x86_64', arm64: 'aarch64' }

/** Builds <outDir>/iid-docker-auth-<version>-1.<arch>.rpm from a staged tree (with no DEBIAN/ yet). */
export function buildRpm(stage, arch, outDir) {
  const top = join(root, 'dist', 'rpmbuild', arch)
  rmSync(top, { recursive: true, force: true })
  mkdirSync(top, { recursive: true })
  execFileSync(
    'rpmbuild',
    [
      '-bb',
      '--quiet',
      `--target=${rpmArch[arch]}`,
      `--define=_topdir ${top}`,
      // Its own database too: Debian's rpm would otherwise create one in root's home.
      `--define=_dbpath ${join(top, 'rpmdb')}`,
      `--define=pkg_version ${version}`,
      `--define=stage ${stage}`,
      `--define=packager ${maintainer}`,
      // The build's day, as a changelog entry names it: "Sun Dec 06 2026".
      `--define=changelog_date ${new Date().toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+).*$/, '$1 $3 $2 $4')}`,
      join(root, 'packaging', 'rpm', 'iid-docker-auth.spec'),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const name = `iid-docker-auth-${version}-1.${rpmArch[arch]}.rpm`
  cpSync(join(top, 'RPMS', rpmArch[arch], name), join(outDir, name))
  return join(outDir, name)
}
