// The published entry, dist/iid-docker-auth.cjs (bin/ requires it): runs the CLI bundle beside it,
// through a V8 code cache when systemd gives the unit a cache directory (src/code-cache.ts).
import { join } from 'node:path'
import { cacheDirectory, runBundle } from './code-cache.js'

/** Set by scripts/build.mjs: a hash of the core bundle's bytes. */
declare const __CORE_BUILD_ID__: string

runBundle(join(__dirname, 'iid-docker-auth-core.cjs'), __CORE_BUILD_ID__, cacheDirectory(process.env))
