// The IID_DOCKER_AUTH_* variables every mode shares: their names, defaults, and how one value is
// read. A bad value is a usage error naming where it was set, never a silent fall-back.

import { shown, usageError } from '../errors.js'
import { type NormalizedRegistry, parseRegistryList } from '../config/registry-keys.js'

export type Env = Readonly<Record<string, string | undefined>>

/** One per option a unit file would set. */
export const envNames = {
  registries: 'IID_DOCKER_AUTH_REGISTRIES',
  config: 'IID_DOCKER_AUTH_CONFIG',
  username: 'IID_DOCKER_AUTH_USERNAME',
  signature: 'IID_DOCKER_AUTH_SIGNATURE',
  stripNewlines: 'IID_DOCKER_AUTH_STRIP_NEWLINES',
  endpoint: 'IID_DOCKER_AUTH_ENDPOINT',
  timeout: 'IID_DOCKER_AUTH_TIMEOUT',
  attemptTimeout: 'IID_DOCKER_AUTH_ATTEMPT_TIMEOUT',
  lockTimeout: 'IID_DOCKER_AUTH_LOCK_TIMEOUT',
  json: 'IID_DOCKER_AUTH_JSON',
  verbosity: 'IID_DOCKER_AUTH_LOG_LEVEL',
  platform: 'IID_DOCKER_AUTH_PLATFORM',
  envFile: 'IID_DOCKER_AUTH_ENV_FILE',
  sysfs: 'IID_DOCKER_AUTH_SYSFS',
} as const

/**
 * The boot writer's settings that the helper and kubelet modes drop from the settings file they
 * share: config files, output and the lock mean nothing there, so a bad one must not fail them.
 */
export const writerOnlySettings: readonly string[] = [envNames.config, envNames.json, envNames.verbosity, envNames.lockTimeout]

export const defaultTimeoutSeconds = 120
/** check's own IMDS deadline: an operator waits for it. */
export const checkTimeoutSeconds = 10
export const defaultAttemptTimeoutSeconds = 2
export const defaultLockTimeoutSeconds = 30
export const ipv4Endpoint = 'http://169.254.169.254'
export const ipv6Endpoint = 'http://[fd00:ec2::254]'

/** Where a variable was found: its own name (the process environment), or the file it came from. */
export type VariableOrigin = (name: string) => string

export const processOrigin: VariableOrigin = (name) => name

/** A variable as messages name it: `IID_DOCKER_AUTH_CONFIG`, or `IID_DOCKER_AUTH_CONFIG in /etc/default/iid-docker-auth`. */
export const variableLabel = (name: string, origin: VariableOrigin): string => (origin(name) === name ? name : `${name} in ${origin(name)}`)

/** The environment less the settings a mode does not use, so that a bad one never fails a mode it means nothing to. */
export function withoutSettings(env: Env, names: readonly string[]): Env {
  const kept: Record<string, string | undefined> = { ...env }
  for (const name of names) delete kept[name]
  return kept
}

/** A blank variable counts as unset, as systemd's `NAME=` does. */
export const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value.trim() === '' ? undefined : value)

export function parseBoolean(name: string, value: string): boolean {
  const v = value.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(v)) return true
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false
  throw usageError(`${name}=${shown(value)} is not a boolean`, `set ${name} to true or false`)
}

/**
 * A number of seconds as plain decimal text (`90`, `2.5`), up to a day; `0` only where `allowZero`.
 * The message names the real default, so a bad value is fixed in one step.
 */
export function parseSeconds(value: string, source: string, defaultSeconds: number, allowZero = false): number {
  const text = value.trim()
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN
  if (!(seconds <= 86400) || seconds < 0 || (seconds === 0 && !allowZero)) {
    const range = allowZero ? 'from 0 to 86400' : 'above 0, up to 86400'
    const example = source.startsWith('-') ? `${source} ${defaultSeconds}` : `${source}=${defaultSeconds}`
    const fix = `give plain decimal seconds; the default is ${defaultSeconds} (e.g. ${example})`
    throw usageError(`${source} ${shown(value)} is not a number of seconds ${range}`, fix)
  }
  return Math.round(seconds * 1000)
}

/** How long to wait for another run of this tool that holds the lock on a config file (0: not at all). */
export function lockTimeoutMs(env: Env): number {
  const value = nonEmpty(env[envNames.lockTimeout])
  return value === undefined ? defaultLockTimeoutSeconds * 1000 : parseSeconds(value, envNames.lockTimeout, defaultLockTimeoutSeconds, true)
}

const endpointExample = 'give the IMDS base URL, e.g. http://169.254.169.254'

/** Validates an IMDS base URL; the SDK appends `latest/...` to its path, so it must end in `/`. */
export function normalizeEndpoint(value: string, source: string): string {
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw usageError(`${source} ${shown(value)} is not a URL`, endpointExample)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`${source} ${shown(value)} is not an http(s) URL`, endpointExample)
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    const fix = 'give only scheme, host, port and an optional base path'
    throw usageError(`${source} ${shown(value)} has credentials, a query or a fragment`, fix)
  }
  const base = `${url.protocol}//${url.host}${url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`}`
  // Every IMDS line names the endpoint; no real one comes near this.
  if (base.length > 200) throw usageError(`${source} ${shown(value)} is longer than 200 characters`, endpointExample)
  return base
}

/** Where IMDS is: flag, IID_DOCKER_AUTH_ENDPOINT, AWS_EC2_METADATA_SERVICE_ENDPOINT, the mode, the IPv4 default. */
export function resolveEndpoint(flag: string | undefined, env: Env): string {
  if (nonEmpty(flag) !== undefined) return normalizeEndpoint(flag!, '--endpoint')
  for (const name of [envNames.endpoint, 'AWS_EC2_METADATA_SERVICE_ENDPOINT']) {
    const value = nonEmpty(env[name])
    if (value !== undefined) return normalizeEndpoint(value, name)
  }
  const mode = nonEmpty(env['AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE'])
  if (mode !== undefined) {
    if (mode.toLowerCase() === 'ipv6') return normalizeEndpoint(ipv6Endpoint, 'default')
    if (mode.toLowerCase() !== 'ipv4') {
      const fix = 'set it to IPv4 or IPv6, or unset it'
      throw usageError(`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=${shown(mode)} is neither IPv4 nor IPv6`, fix)
    }
  }
  return normalizeEndpoint(ipv4Endpoint, 'default')
}

/** A list the user gave (registries, config files): its items, trimmed, and where they came from. */
export interface ListSetting {
  readonly items: readonly string[]
  /** `--config`, `IID_DOCKER_AUTH_CONFIG`, `/etc/default/iid-docker-auth`, ... */
  readonly source: string
  /** For messages: the flag, or the variable and where it was set. */
  readonly label: string
}

/**
 * The flag's values (each split on commas when `splitFlag`), else the variable's comma-separated
 * items; undefined when neither is given. Stray commas (`a, b,`) are tolerated; a value that names
 * nothing (`''`, `,`) is a usage error, never a silent fall-back to the default.
 */
export function listSetting(
  flagValues: readonly string[] | undefined,
  flag: string,
  splitFlag: boolean,
  name: string,
  env: Env,
  origin: VariableOrigin,
  what: string,
): ListSetting | undefined {
  const items = (value: string, label: string, split: boolean): string[] => {
    const parts = (split ? value.split(',') : [value]).map((s) => s.trim()).filter((s) => s !== '')
    if (parts.length > 0) return parts
    const fix =
      what === 'registry' ? 'give at least one registry as host[:port]' : `give a path, or leave ${label} out for the default location`
    throw usageError(`${label} ${shown(value)} names no ${what}`, fix)
  }
  if (flagValues !== undefined && flagValues.length > 0) {
    return { items: flagValues.flatMap((v) => items(v, flag, splitFlag)), source: flag, label: flag }
  }
  const value = env[name]
  if (value === undefined) return undefined
  const label = variableLabel(name, origin)
  return { items: items(value, label, true), source: origin(name), label }
}

type ListFlags<K extends string> = { readonly [key in K]?: readonly string[] | undefined }

export const registrySetting = (flags: ListFlags<'registry'>, env: Env, origin = processOrigin): ListSetting | undefined =>
  listSetting(flags.registry, '--registry', true, envNames.registries, env, origin, 'registry')

/** A --config value is one path (a path may hold a comma); the variable is a comma-separated list. */
export const configSetting = (flags: ListFlags<'config'>, env: Env, origin = processOrigin): ListSetting | undefined =>
  listSetting(flags.config, '--config', false, envNames.config, env, origin, 'config file')

/** The registries to act on; a usage error when none are given. */
export function requireRegistries(flags: ListFlags<'registry'>, env: Env, origin = processOrigin): NormalizedRegistry[] {
  const setting = registrySetting(flags, env, origin)
  if (setting === undefined) {
    throw usageError('no registry given', `pass --registry <host[:port]> (repeatable) or set ${envNames.registries}`)
  }
  return parseRegistryList(setting.items)
}
