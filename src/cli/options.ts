// The command-line options several commands share, as commander definitions; what they mean is
// src/settings/. installSettings and withVariables are install's and move to src/systemd/ with it.

import { type Command, Option } from 'commander'
import { shown, usageError } from '../errors.js'
import { type SettingFlags as WriteFlags, resolveSettings as resolveWriteOptions } from '../settings/settings.js'
import {
  type Env,
  configSetting,
  defaultTimeoutSeconds,
  envNames,
  ipv4Endpoint,
  nonEmpty,
  parseBoolean,
  registrySetting,
} from '../settings/values.js'

/** commander's collector for a repeatable option. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

export const registryOption = (description: string): Option => new Option('-r, --registry <host[:port]>', description).argParser(collect)

const defaultConfigText = '$DOCKER_CONFIG/config.json, else <passwd home>/.docker/config.json'

export function addRegistryAndConfig(cmd: Command): Command {
  return cmd
    .addOption(registryOption(`registry; repeatable or comma-separated (env ${envNames.registries})`))
    .addOption(new Option('-c, --config <file>', `config file; repeatable (default ${defaultConfigText})`).argParser(collect))
}

/** The options that shape the credential and how IMDS is asked: write, check, install and the kubelet modes. */
export function addIdentityOptions(cmd: Command, timeout: string): Command {
  return cmd
    .option('--username <name>', 'user name in the credential (default instance-identity-document)')
    .option('--signature <kind>', 'pkcs7 (default) or rsa2048')
    .option('--strip-newlines', 'send the PKCS7 as one line instead of verbatim')
    .option('--endpoint <url>', 'IMDS base URL (default $AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254)')
    .option('--timeout <seconds>', timeout)
}

export const addCredentialOptions = (cmd: Command, timeoutSeconds = defaultTimeoutSeconds): Command =>
  addIdentityOptions(addRegistryAndConfig(cmd), `overall deadline for getting the identity from IMDS (default ${timeoutSeconds})`)

export function addOutputOptions(cmd: Command, dryRun: string | undefined): Command {
  if (dryRun !== undefined) cmd.option('--dry-run', dryRun)
  return cmd
    .option('--json', 'print one JSON object describing the outcome on stdout')
    .option('-q, --quiet', 'print errors only')
    .option('-v, --verbose', 'print each step')
}

export function addLayoutOptions(cmd: Command): Command {
  return cmd
    .option('--root <dir>', 'operate on an image root instead of this machine (systemctl --root)')
    .option('--unit-dir <dir>', 'unit directory, inside the root (default /etc/systemd/system)')
    .option('--force', 'replace (or remove) files that were edited by hand or not written by this tool')
}

/**
 * The environment file that `install` writes: the registries and config files always (explicit
 * paths, since systemd gives the unit no $HOME), the other settings only where a flag (or its
 * variable, see withVariables) set them.
 */
export function installSettings(flags: WriteFlags, configFiles: readonly string[]): Array<readonly [string, string]> {
  if (!flags.registry?.length)
    throw usageError(
      'install needs the registries the unit will authenticate',
      `pass --registry <host[:port]> (repeatable) or set ${envNames.registries}`,
    )
  const options = resolveWriteOptions({ ...flags, endpoint: flags.endpoint ?? ipv4Endpoint }, {})
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
export function withVariables<F extends WriteFlags>(flags: F, env: Env): F {
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
