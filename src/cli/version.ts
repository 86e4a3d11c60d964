// The package version, kept equal to package.json's by a test; a constant, so that start-up reads no file.
export const version = '0.1.0'

/** Set to true by scripts/package/sea.mjs in the single executable's bundle; absent elsewhere. */
declare const __SEA__: boolean | undefined
/** Whether this is the single executable, which carries its own Node.js and is its own CLI script. */
export const isSingleExecutable = typeof __SEA__ === 'boolean' && __SEA__

/** What --version prints: the single executable names the runtime it carries. */
export const versionLine = isSingleExecutable ? `${version} (single executable, Node.js ${process.version})` : version
