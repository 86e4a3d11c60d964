// The file tree both packages hold, staged in a directory: the executable, the helper's link,
// the unit, the settings file and the licences. The deb and rpm steps wrap it, nothing more.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { root } from '../bundle-options.mjs'

/** package.json's version: every artifact carries it. */
export const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version
/** package.json names no author; .invalid marks the address as one to set (IID_PACKAGE_MAINTAINER). */
export const maintainer = process.env.IID_PACKAGE_MAINTAINER ?? 'iid-docker-auth maintainers <maintainers@iid-docker-auth.invalid>'
/** Where the package's files are, as installed (the rpm spec's %files lists the same). */
export const paths = {
  executable: 'usr/bin/iid-docker-auth',
  helperLink: 'usr/bin/docker-credential-iid',
  unit: 'usr/lib/systemd/system/iid-docker-auth.service',
  settings: 'etc/default/iid-docker-auth',
  preset: 'usr/lib/systemd/system-preset/50-iid-docker-auth.preset',
  doc: 'usr/share/doc/iid-docker-auth',
}

function put(stage, path, content, mode) {
  mkdirSync(dirname(join(stage, path)), { recursive: true })
  writeFileSync(join(stage, path), content)
  chmodSync(join(stage, path), mode)
}

/** Stages the tree in `stage` (emptied first) from the built executable and its runtime's licence. */
export async function stageTree(stage, executable, nodeLicence) {
  rmSync(stage, { recursive: true, force: true })
  // The unit comes from the compiled sources, so it is the one the tests of src/ check.
  const { renderPackageUnit } = await import(join(root, 'dist', 'src', 'systemd', 'package-unit.js'))
  const template = readFileSync(join(root, 'systemd', 'iid-docker-auth.service'), 'utf8')
  mkdirSync(dirname(join(stage, paths.executable)), { recursive: true })
  copyFileSync(executable, join(stage, paths.executable))
  chmodSync(join(stage, paths.executable), 0o755)
  // Relative, so it still points at the executable inside an image mounted elsewhere.
  symlinkSync('iid-docker-auth', join(stage, paths.helperLink))
  put(stage, paths.unit, renderPackageUnit(template), 0o644)
  put(stage, paths.settings, readFileSync(join(root, 'packaging', 'iid-docker-auth.default')), 0o644)
  put(stage, paths.preset, readFileSync(join(root, 'packaging', 'systemd', '50-iid-docker-auth.preset')), 0o644)
  const copyright = [
    'iid-docker-auth: MIT licence.',
    'It carries Node.js (licence below) and the packages listed after it, each under its own licence.',
    '',
    `${'='.repeat(72)}\nNode.js ${readFileSync(nodeLicence, 'utf8')}`,
    `${'='.repeat(72)}\n${readFileSync(join(root, 'dist', 'THIRD_PARTY_LICENSES.txt'), 'utf8')}`,
  ].join('\n')
  put(stage, join(paths.doc, 'copyright'), copyright, 0o644)
  return stage
}
