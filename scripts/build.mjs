// Bundles the CLI with no runtime dependencies: dist/iid-docker-auth.cjs (a small launcher that
// compiles the next one through a V8 code cache), dist/iid-docker-auth-core.cjs (everything `write`
// needs) and dist/iid-docker-auth-admin.cjs (the other commands); collects the licence notices of
// everything bundled into dist/THIRD_PARTY_LICENSES.txt.
import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { bundleOptions, lazyBuiltins, noEventStreams, sdkStartupPatches } from './bundle-options.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const launcherOutfile = join(root, 'dist', 'iid-docker-auth.cjs')
const outfile = join(root, 'dist', 'iid-docker-auth-core.cjs')
// The commands off the boot path (check, install, uninstall, remove) go into a
// second file that the first loads on demand, so a boot parses only what `write` needs.
const adminOutfile = join(root, 'dist', 'iid-docker-auth-admin.cjs')
const unitTemplate = readFileSync(join(root, 'systemd', 'iid-docker-auth.service'), 'utf8')

/** Modules the boot bundle exports as `modules` (src/main.ts); the admin bundle borrows them. */
const shared = {
  'cli-shared': 'cliShared',
  'config-file': 'configFile',
  'config-update': 'configUpdate',
  'docker-config': 'dockerConfig',
  errors: 'errors',
  identity: 'identity',
  imds: 'imds',
  'json-doc': 'jsonDoc',
  lock: 'lock',
  log: 'log',
  options: 'options',
  registry: 'registry',
  'systemd-names': 'systemdNames',
}
const borrowFromBoot = {
  name: 'borrow-from-boot',
  setup(b) {
    b.onResolve({ filter: /^\.\/[a-z-]+\.js$/ }, (args) => {
      const name = args.path.slice(2, -3)
      return shared[name] === undefined ? undefined : { path: name, namespace: 'borrowed' }
    })
    b.onLoad({ filter: /.*/, namespace: 'borrowed' }, (args) => ({
      contents: `module.exports = require('./iid-docker-auth-core.cjs').modules.${shared[args.path]}`,
      loader: 'js',
    }))
  },
}

const adminBundle = {
  name: 'admin-bundle',
  setup(b) {
    b.onResolve({ filter: /^\.\/cli-admin\.js$/ }, () => ({ path: './iid-docker-auth-admin.cjs', external: true }))
  },
}

const common = {
  ...bundleOptions,
  // The unit file travels inside the bundle, so install needs no file beside it.
  define: { __UNIT_TEMPLATE__: JSON.stringify(unitTemplate) },
  banner: { js: "/* iid-docker-auth: bundled dependencies' licences are in THIRD_PARTY_LICENSES.txt */" },
}
const main = await build({ ...common, plugins: [lazyBuiltins, noEventStreams, sdkStartupPatches({ requireAll: true }), adminBundle], entryPoints: [join(root, 'src', 'main.ts')], outfile })
const admin = await build({ ...common, plugins: [lazyBuiltins, noEventStreams, sdkStartupPatches({ requireAll: false }), borrowFromBoot], external: ['./iid-docker-auth-core.cjs'], entryPoints: [join(root, 'src', 'cli-admin.ts')], outfile: adminOutfile })
// The launcher knows the core by a hash of its bytes, which keys the code cache.
const coreBuildId = createHash('sha256').update(readFileSync(outfile)).digest('hex').slice(0, 16)
await build({ ...common, define: { __CORE_BUILD_ID__: JSON.stringify(coreBuildId) }, banner: {}, entryPoints: [join(root, 'src', 'launch.ts')], outfile: launcherOutfile })

// One notice per bundled package, from its own LICENSE file.
const packages = new Set()
for (const input of [...Object.keys(main.metafile.inputs), ...Object.keys(admin.metafile.inputs)]) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
  if (match) packages.add(match[1])
}
// Identical licence texts (the SDK's Apache-2.0, the many MIT ones) are printed once, with every
// package that carries them.
const byText = new Map()
for (const dir of [...packages].sort()) {
  const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'))
  const licenceFile = readdirSync(join(root, dir)).find((f) => /^licen[cs]e/i.test(f))
  const text = licenceFile ? readFileSync(join(root, dir, licenceFile), 'utf8').trim() : `${manifest.license} (no licence file in the package)`
  const normalized = text.replace(/^Copyright.*$/gim, '').replace(/\s+/g, ' ').trim()
  const entry = byText.get(normalized) ?? { text, names: [] }
  entry.names.push(`${manifest.name}@${manifest.version} (${manifest.license})${/^Copyright/im.test(text) ? `: ${text.match(/^Copyright.*$/gim).join('; ')}` : ''}`)
  byText.set(normalized, entry)
}
const notices = [...byText.values()].map(({ text, names }) => `${names.join('\n')}\n${'-'.repeat(72)}\n${text}\n`)
writeFileSync(join(root, 'dist', 'THIRD_PARTY_LICENSES.txt'), `Licences of the packages bundled into iid-docker-auth.cjs and iid-docker-auth-admin.cjs\n\n${notices.join('\n')}`)
const kb = (file) => `${relative(root, file)} ${(readFileSync(file).length / 1024).toFixed(1)} KB`
console.error(`build: ${kb(launcherOutfile)}, ${kb(outfile)}, ${kb(adminOutfile)}, ${packages.size} bundled packages`)
