// `npm run package` (after `npm run build`): into dist/packages/, the single executable
// iid-docker-auth-linux-<arch> and the .deb and .rpm that hold it. x64 always; arm64 with
// IID_PACKAGE_ARM64=1 (a foreign architecture: no code cache, not stripped, not run here).
// --if-stale builds only when the bundle is newer than the last build (the tests call it so).
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { root } from './bundle-options.mjs'
import { buildDeb } from './package/deb.mjs'
import { buildRpm } from './package/rpm.mjs'
import { fetchNode } from './package/runtime.mjs'
import { buildExecutable, seaBundle } from './package/sea.mjs'
import { stageTree } from './package/tree.mjs'

const outDir = join(root, 'dist', 'packages')
const stamp = join(outDir, '.built')
const bundle = join(root, 'dist', 'iid-docker-auth.cjs')
if (!existsSync(bundle)) throw new Error('package: run `npm run build` first (dist/iid-docker-auth.cjs is missing)')
const fresh = existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(bundle).mtimeMs
if (process.argv.includes('--if-stale') && fresh) process.exit(0)

rmSync(outDir, { recursive: true, force: true })
mkdirSync(outDir, { recursive: true })
const seaSource = await seaBundle()
const arches = process.env.IID_PACKAGE_ARM64 === '1' ? ['x64', 'arm64'] : ['x64']
for (const arch of arches) {
  const executable = buildExecutable(seaSource, arch, outDir)
  const stage = await stageTree(join(root, 'dist', 'stage', arch), executable, join(fetchNode(arch), 'LICENSE'))
  // The rpm first: the deb step adds DEBIAN/ to the staged tree.
  for (const file of [buildRpm(stage, arch, outDir), buildDeb(stage, arch, outDir)])
    console.error(`package: ${file.slice(root.length + 1)} ${(statSync(file).size / 1e6).toFixed(1)} MB`)
  console.error(`package: ${executable.slice(root.length + 1)} ${(statSync(executable).size / 1e6).toFixed(1)} MB`)
}
writeFileSync(stamp, '')
