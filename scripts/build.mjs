// Bundles the CLI into one readable CommonJS file with no runtime dependencies,
// dist/iid-docker-auth.cjs (bin/ requires it), and collects the licence notices of everything
// bundled into dist/THIRD_PARTY_LICENSES.txt.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { build } from 'esbuild'
import { cliBundleOptions, minifyDependencies, root } from './bundle-options.mjs'

const outfile = join(root, 'dist', 'iid-docker-auth.cjs')

// execa serves only the commands that run systemctl (install, uninstall, check), never a boot. Built
// into a file of its own beside the bundle, it is not read or compiled on the boot path, where it
// would otherwise be two fifths of the code.
const execaFile = join(root, 'dist', 'execa.cjs')
const execaResult = await build({
  stdin: { contents: "export { execa } from 'execa'", resolveDir: root, loader: 'js' },
  outfile: execaFile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
})
const execaOnItsOwn = {
  name: 'execa-on-its-own',
  setup(b) {
    b.onResolve({ filter: /^execa$/ }, () => ({ path: './execa.cjs', external: true }))
  },
}

// The registry side (the verify command, the library iid-docker-auth/verify and AWS's certificates)
// in a file of its own, read only when verify runs: a boot never reads or compiles it.
const verifyFile = join(root, 'dist', 'verify.cjs')
const verifyResult = await build({
  entryPoints: [join(root, 'src', 'verify-main.ts')],
  outfile: verifyFile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  supported: { 'dynamic-import': false },
  plugins: [minifyDependencies],
  // verify --check-running loads the EC2 SDK from beside the package (src/commands/verify-ec2.ts):
  // bundled, it would be four times everything else.
  external: ['@aws-sdk/client-ec2'],
  minifySyntax: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
})
const verifyOnItsOwn = {
  name: 'verify-on-its-own',
  setup(b) {
    b.onResolve({ filter: /\/commands\/verify\.js$/ }, (args) =>
      args.importer.endsWith('verify-command.ts') ? { path: './verify.cjs', external: true } : undefined,
    )
  },
}

const options = cliBundleOptions(outfile)
const result = await build({ ...options, plugins: [execaOnItsOwn, verifyOnItsOwn, ...options.plugins] })

// Node holds a module's source in memory for as long as it runs, as one byte per character only
// when every character is ASCII: a single non-ASCII one (esbuild escapes them in strings, not in
// regular expressions) doubles what the whole bundle costs there.
for (const file of [outfile, verifyFile]) {
  const nonAscii = /[^\x00-\x7f]/.exec(readFileSync(file, 'utf8'))
  if (nonAscii !== null)
    throw new Error(
      `build: ${relative(root, file)} has a non-ASCII character (${JSON.stringify(nonAscii[0])}); write it as a \\u escape in the source`,
    )
}

// One notice per bundled package, from its own LICENSE file.
const packages = new Set()
for (const input of [result, execaResult, verifyResult].flatMap((r) => Object.keys(r.metafile.inputs))) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
  if (match) packages.add(match[1])
}
// Identical licence texts (the SDK's Apache-2.0, the many MIT ones) are printed once, with every
// package that carries them.
const byText = new Map()
for (const dir of [...packages].sort()) {
  const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'))
  const licenceFile = readdirSync(join(root, dir)).find((f) => /^licen[cs]e/i.test(f))
  const text = licenceFile
    ? readFileSync(join(root, dir, licenceFile), 'utf8').trim()
    : `${manifest.license} (no licence file in the package)`
  // Grouped by the licence's terms: copyright lines (listed with each package) and what follows
  // Apache-2.0's "END OF TERMS AND CONDITIONS" (how to apply it) differ between copies.
  const normalized = text
    .split('END OF TERMS AND CONDITIONS')[0]
    .replace(/^\s*Copyright.*$/gim, '')
    .replace(/\s+/g, ' ')
    .trim()
  const entry = byText.get(normalized) ?? { text, names: [] }
  entry.names.push(
    `${manifest.name}@${manifest.version} (${manifest.license})${/^Copyright/im.test(text) ? `: ${text.match(/^Copyright.*$/gim).join('; ')}` : ''}`,
  )
  byText.set(normalized, entry)
}
const notices = [...byText.values()].map(({ text, names }) => `${names.join('\n')}\n${'-'.repeat(72)}\n${text}\n`)
writeFileSync(
  join(root, 'dist', 'THIRD_PARTY_LICENSES.txt'),
  `Licences of the packages bundled into iid-docker-auth.cjs and execa.cjs\n\n${notices.join('\n')}`,
)
console.error(`build: ${relative(root, outfile)} ${(readFileSync(outfile).length / 1024).toFixed(1)} KB, ${packages.size} bundled packages`)
