// The .deb: the staged tree plus DEBIAN/ from packaging/deb (control filled in, the maintainer
// scripts as dh_installsystemd writes them), built with dpkg-deb so files belong to root.
import { execFileSync } from 'node:child_process'
import { chmodSync, cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { root } from '../bundle-options.mjs'
import { maintainer, paths, version } from './tree.mjs'

const debianArch = { x64: 'amd64', arm64: 'arm64' }
/** Where the .deb keeps the settings file's template (postinst copies it to /etc/default). */
const debSettingsTemplate = 'usr/share/iid-docker-auth/iid-docker-auth.default'

/** Builds <outDir>/iid-docker-auth_<version>_<arch>.deb from a staged tree (which gains DEBIAN/). */
export function buildDeb(sharedStage, arch, outDir) {
  const stage = `${sharedStage}-deb`
  rmSync(stage, { recursive: true, force: true })
  cpSync(sharedStage, stage, { recursive: true, verbatimSymlinks: true })
  // The settings file is no conffile here: postinst makes it from this template when it is missing,
  // so one that `iid-docker-auth install` wrote before is kept without dpkg's prompt (which fails
  // with no terminal, as in an image build); postrm removes it on purge.
  mkdirSync(join(stage, debSettingsTemplate, '..'), { recursive: true })
  renameSync(join(stage, paths.settings), join(stage, debSettingsTemplate))
  const control = join(stage, 'DEBIAN')
  mkdirSync(control, { recursive: true })
  const installedKiB = Number(execFileSync('du', ['-sk', '--exclude=DEBIAN', stage]).toString().split('\t')[0])
  const fields = {
    VERSION: version,
    ARCH: debianArch[arch],
    INSTALLED_SIZE: String(installedKiB),
    MAINTAINER: maintainer,
  }
  const template = readFileSync(join(root, 'packaging', 'deb', 'control'), 'utf8')
  writeFileSync(
    join(control, 'control'),
    template.replace(/@([A-Z_]+)@/g, (_, name) => fields[name]),
  )
  for (const script of ['postinst', 'prerm', 'postrm']) {
    cpSync(join(root, 'packaging', 'deb', script), join(control, script))
    chmodSync(join(control, script), 0o755)
  }
  const out = join(outDir, `iid-docker-auth_${version}_${debianArch[arch]}.deb`)
  // xz, which every dpkg reads; --root-owner-group makes every file root's without fakeroot.
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, out], { stdio: ['ignore', 'ignore', 'inherit'] })
  return out
}
