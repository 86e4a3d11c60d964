// Names of what install puts on a machine; no imports, so the help text can use them cheaply.
export const unitName = 'iid-docker-auth.service'
export const defaultUnitDir = '/etc/systemd/system'
export const environmentFilePath = '/etc/default/iid-docker-auth'
/** The unit's CacheDirectory= and the V8 code cache the tool keeps there (src/code-cache.ts). */
export const cacheDirectoryPath = '/var/cache/iid-docker-auth'
export const cacheFileName = 'iid-docker-auth.v8cache'
