// The esbuild options of the CLI bundle, shared by the npm bundle (scripts/build.mjs) and the
// single executable's (scripts/package/sea.mjs), so the two run the same code.
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { transform } from 'esbuild'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * The bundled packages (commander, execa, the AWS SDK) are minified as they are loaded, so the
 * package stays small; our own code is not, so a --verbose stack trace names a readable line.
 */
export const minifyDependencies = {
  name: 'minify-dependencies',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/].*\.[cm]?js$/ }, async (args) => {
      const { code } = await transform(await readFile(args.path, 'utf8'), { minify: true, loader: 'js', sourcefile: args.path })
      return { contents: code, loader: 'js', resolveDir: dirname(args.path) }
    })
  },
}

/** Options for bundling src/main.ts into `outfile`; `define` adds compile-time constants. */
export function cliBundleOptions(outfile, define = {}) {
  const unitTemplate = readFileSync(join(root, 'systemd', 'iid-docker-auth.service'), 'utf8')
  return {
    entryPoints: [join(root, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // The AWS SDK's ES module builds, which esbuild tree-shakes to a fraction of the CommonJS ones.
    mainFields: ['module', 'main'],
    // import() as require(): the SDK's import('node:http') would otherwise start Node's ES module
    // loader at every boot, and on Node 22 its facade of node:http loads undici (fetch) as well.
    supported: { 'dynamic-import': false },
    plugins: [minifyDependencies],
    // verify --check-running loads the EC2 SDK from beside the package (src/commands/verify-ec2.ts):
    // bundled, it would be four times everything else.
    external: ['@aws-sdk/client-ec2'],
    // Shorter forms and dead branches dropped; names and line breaks stay, so stack traces stay readable.
    minifySyntax: true,
    // The unit file travels inside the bundle, so install needs no file beside it.
    define: { __UNIT_TEMPLATE__: JSON.stringify(unitTemplate), ...define },
    banner: { js: "/* iid-docker-auth: bundled dependencies' licences are in THIRD_PARTY_LICENSES.txt */" },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    // install-command's fallback for running from source reads import.meta; the bundle never takes it.
    logOverride: { 'empty-import-meta': 'silent' },
  }
}
