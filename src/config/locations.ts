// Where the config files are: the ones named (flag or variable), else $DOCKER_CONFIG/config.json,
// else <passwd home>/.docker/config.json.

import { userInfo } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import type { Env, ListSetting } from '../settings/values.js'
import { shown, usageError } from '../errors.js'

export interface ConfigLocation {
  readonly path: string
  /** Why this path: --config, IID_DOCKER_AUTH_CONFIG, the unit's environment file, DOCKER_CONFIG, or the passwd home. */
  readonly source: string
}

/** Longer than any path the kernel accepts (PATH_MAX); refused before it reaches a message or a syscall. */
const maxPathLength = 4095

/** `path` made absolute; only a relative one needs the working directory, which may have been deleted. */
export function absolute(path: string, label: string, cwd: string | undefined): string {
  if (path.length > maxPathLength) {
    throw usageError(`${label} ${shown(path)} is longer than any path can be`, 'give the path of the config file')
  }
  if (isAbsolute(path)) return resolve(path)
  if (cwd === undefined) {
    const fix = 'give an absolute path, or run from an existing directory'
    throw usageError(`${label} ${shown(path)} is a relative path, and the working directory no longer exists`, fix)
  }
  return resolve(cwd, path)
}

/**
 * Default location: $DOCKER_CONFIG/config.json, else <passwd home of the effective user>/.docker/config.json.
 * The passwd home, not $HOME: systemd gives a unit without User= no $HOME at all. An empty
 * DOCKER_CONFIG counts as unset, as it does for Docker.
 */
export function resolveConfigLocations(
  config: ListSetting | undefined,
  env: Env,
  cwd: string | undefined,
  passwdHome: () => string,
): ConfigLocation[] {
  if (config !== undefined) return config.items.map((p) => ({ path: absolute(p, config.label, cwd), source: config.source }))
  const dockerConfig = env['DOCKER_CONFIG']
  if (dockerConfig !== undefined && dockerConfig.trim() !== '') {
    return [{ path: join(absolute(dockerConfig, 'DOCKER_CONFIG', cwd), 'config.json'), source: 'DOCKER_CONFIG' }]
  }
  return [{ path: join(passwdHome(), '.docker', 'config.json'), source: 'passwd home of the effective user' }]
}

/** The locations for this process: its environment and working directory, the effective user's passwd home. */
export const locationsFor = (config: ListSetting | undefined, where: { readonly env: Env; readonly cwd: string | undefined }) =>
  resolveConfigLocations(config, where.env, where.cwd, () => userInfo().homedir)
