// The settings install renders into the unit's environment file, from install's flags: validated as
// write would validate them, so the unit never boots into a usage error.

import { shown, usageError } from '../errors.js'
import { type SettingFlags, resolveSettings } from '../settings/settings.js'
import { type Env, configSetting, envNames, ipv4Endpoint, nonEmpty, parseBoolean, registrySetting } from '../settings/values.js'

/**
 * The environment file that `install` writes: the registries and config files always (explicit
 * paths, since systemd gives the unit no $HOME), the other settings only where a flag (or its
 * variable, see withVariables) set them.
 */
export function installSettings(flags: SettingFlags, configFiles: readonly string[]): Array<readonly [string, string]> {
  if (!flags.registry?.length)
    throw usageError(
      'install needs the registries the unit will authenticate',
      `pass --registry <host[:port]> (repeatable) or set ${envNames.registries}`,
    )
  const options = resolveSettings({ ...flags, endpoint: flags.endpoint ?? ipv4Endpoint }, {})
  for (const file of configFiles) {
    if (!file.startsWith('/'))
      throw usageError(
        `--config ${shown(file)} must be an absolute path for the unit`,
        'give the full path, e.g. /root/.docker/config.json',
      )
    // The unit reads the files back from one comma-separated variable.
    if (file.includes(','))
      throw usageError(
        `--config ${shown(file)} contains a comma, which the unit's ${envNames.config} list cannot hold`,
        'rename the directory or point --config at a path without commas',
      )
  }
  const settings: Array<readonly [string, string]> = [
    [envNames.registries, options.registries.map((r) => r.key).join(',')],
    [envNames.config, configFiles.join(',')],
  ]
  if (flags.username !== undefined) settings.push([envNames.username, options.username])
  if (flags.signature !== undefined) settings.push([envNames.signature, options.signature])
  if (flags.stripNewlines) settings.push([envNames.stripNewlines, 'true'])
  if (flags.endpoint !== undefined) settings.push([envNames.endpoint, options.endpoint])
  if (flags.timeout !== undefined) settings.push([envNames.timeout, String(options.timeoutMs / 1000)])
  return settings
}

/**
 * The flags install renders into the unit's environment file, each from its flag or else its
 * IID_DOCKER_AUTH_* variable, read as every command reads them (an empty list is a usage error).
 */
export function withVariables<F extends SettingFlags>(flags: F, env: Env): F {
  const registries = registrySetting(flags, env)
  const config = configSetting(flags, env)
  const value = (flag: string | undefined, name: string): string | undefined => flag ?? nonEmpty(env[name])
  const strip = env[envNames.stripNewlines]
  return {
    ...flags,
    registry: registries === undefined ? undefined : [...registries.items],
    config: config === undefined ? undefined : [...config.items],
    username: value(flags.username, envNames.username),
    signature: value(flags.signature, envNames.signature),
    stripNewlines: flags.stripNewlines ?? (strip === undefined ? undefined : parseBoolean(envNames.stripNewlines, strip)),
    endpoint: value(flags.endpoint, envNames.endpoint),
    timeout: value(flags.timeout, envNames.timeout),
  }
}
