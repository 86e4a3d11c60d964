// Where the config files are: the ones named (flag or variable), else $DOCKER_CONFIG/config.json,
// else <passwd home>/.docker/config.json.

import { userInfo } from 'node:os'
import { join, resolve } from 'node:path'
import type { CliIo } from '../cli/io.js'
import { type Env, envNames } from '../cli/options.js'

export interface ConfigLocation {
  readonly path: string
  /** Why this path: the flag, DOCKER_CONFIG, or the passwd home directory. */
  readonly source: string
}

/**
 * Default location: $DOCKER_CONFIG/config.json, else <passwd home of the effective user>/.docker/config.json.
 * The passwd home, not $HOME: systemd gives a unit without User= no $HOME at all.
 */
export function resolveConfigLocations(explicit: readonly string[], env: Env, cwd: string, passwdHome: () => string): ConfigLocation[] {
  if (explicit.length > 0) return explicit.map((p) => ({ path: resolve(cwd, p), source: '--config' }))
  const dockerConfig = env['DOCKER_CONFIG']
  if (dockerConfig !== undefined && dockerConfig.trim() !== '') {
    return [{ path: resolve(cwd, dockerConfig, 'config.json'), source: 'DOCKER_CONFIG' }]
  }
  return [{ path: join(passwdHome(), '.docker', 'config.json'), source: 'passwd home of the effective user' }]
}

export function locationsFor(flags: { config?: string[] }, io: CliIo): ConfigLocation[] {
  const explicit = flags.config?.length ? flags.config : (io.env[envNames.config] ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  return resolveConfigLocations(explicit, io.env, io.cwd, () => userInfo().homedir)
}
