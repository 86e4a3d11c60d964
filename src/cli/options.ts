// What the user asked for: flags win over IID_DOCKER_AUTH_* variables, which win over the unit's
// settings file (for the modes that read it: withSettingsFile), which wins over defaults. One resolver for every command, so each value
// is read, trimmed and named by its real source the same way everywhere.
// Pure: takes the parsed flags and an environment, returns validated settings or a usage error.

import { shown, usageError } from '../errors.js'
import { defaultUsername } from '../imds/identity.js'
import { type NormalizedRegistry, parseRegistryList } from '../config/registry-keys.js'
import type { PlatformSetting } from '../imds/platform.js'

export type SignatureKind = 'pkcs7' | 'rsa2048'
export type Verbosity = 'quiet' | 'normal' | 'verbose'

/** Flags as commander hands them over; undefined means "not given". */
export interface WriteFlags extends OutputFlags {
  registry?: string[]
  config?: string[]
  username?: string
  signature?: string
  stripNewlines?: boolean
  endpoint?: string
  timeout?: string
  dryRun?: boolean
}

export interface WriteOptions {
  /** Empty only where the caller allowed it (check). */
  readonly registries: readonly NormalizedRegistry[]
  /** Explicit config paths; undefined means the default location. */
  readonly config: ListSetting | undefined
  readonly username: string
  readonly signature: SignatureKind
  readonly stripNewlines: boolean
  readonly endpoint: string
  readonly timeoutMs: number
  /** Upper bound for one IMDS request (IID_DOCKER_AUTH_ATTEMPT_TIMEOUT). */
  readonly attemptTimeoutMs: number
  readonly dryRun: boolean
  readonly json: boolean
  readonly verbosity: Verbosity
  readonly imdsDisabled: boolean
  /** IID_DOCKER_AUTH_PLATFORM, and where sysfs is (IID_DOCKER_AUTH_SYSFS, for tests): src/imds/platform.ts. */
  readonly platform: PlatformSetting
  readonly sysfs: string
}

export type Env = Readonly<Record<string, string | undefined>>

/** Where a variable was found: its own name (the process environment), or the file it came from. */
export type VariableOrigin = (name: string) => string

export const processOrigin: VariableOrigin = (name) => name

/**
 * The environment less the settings a mode does not use, so that a bad one (a log level, in the
 * settings file that every mode reads) never fails a mode it means nothing to.
 */
export function withoutSettings(env: Env, names: readonly string[]): Env {
  const kept: Record<string, string | undefined> = { ...env }
  for (const name of names) delete kept[name]
  return kept
}

/** A variable as messages name it: `IID_DOCKER_AUTH_CONFIG`, or `IID_DOCKER_AUTH_CONFIG in /etc/default/iid-docker-auth`. */
export const variableLabel = (name: string, origin: VariableOrigin): string => (origin(name) === name ? name : `${name} in ${origin(name)}`)

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
    if (parts.length === 0) throw usageError(`${label} ${shown(value)} names no ${what}`, what === 'registry' ? 'give at least one registry as host[:port]' : `give a path, or leave ${label} out for the default location`)
    return parts
  }
  if (flagValues !== undefined && flagValues.length > 0) return { items: flagValues.flatMap((v) => items(v, flag, splitFlag)), source: flag, label: flag }
  const value = env[name]
  if (value === undefined) return undefined
  const label = variableLabel(name, origin)
  return { items: items(value, label, true), source: origin(name), label }
}

export const registrySetting = (flags: { registry?: readonly string[] | undefined }, env: Env, origin: VariableOrigin = processOrigin): ListSetting | undefined =>
  listSetting(flags.registry, '--registry', true, envNames.registries, env, origin, 'registry')

/** A --config value is one path (a path may hold a comma); the variable is a comma-separated list. */
export const configSetting = (flags: { config?: readonly string[] | undefined }, env: Env, origin: VariableOrigin = processOrigin): ListSetting | undefined =>
  listSetting(flags.config, '--config', false, envNames.config, env, origin, 'config file')

/** The registries to act on; a usage error when none are given. */
export function requireRegistries(flags: { registry?: readonly string[] | undefined }, env: Env, origin: VariableOrigin = processOrigin): NormalizedRegistry[] {
  const setting = registrySetting(flags, env, origin)
  if (setting === undefined) throw usageError('no registry given', `pass --registry <host[:port]> (repeatable) or set ${envNames.registries}`)
  return parseRegistryList(setting.items)
}

/** The IID_DOCKER_AUTH_* family, one per option a unit file would set. */
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
  sysfs: 'IID_DOCKER_AUTH_SYSFS',
} as const

export const defaultTimeoutSeconds = 120
/** check's own IMDS deadline: an operator waits for it. */
export const checkTimeoutSeconds = 10
export const defaultAttemptTimeoutSeconds = 2
export const ipv4Endpoint = 'http://169.254.169.254'
export const ipv6Endpoint = 'http://[fd00:ec2::254]'

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value.trim() === '' ? undefined : value)

export function parseBoolean(name: string, value: string): boolean {
  const v = value.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(v)) return true
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false
  throw usageError(`${name}=${shown(value)} is not a boolean`, `set ${name} to true or false`)
}

/** Validates an IMDS base URL; the SDK appends `latest/...` to its path, so it must end in `/`. */
export function normalizeEndpoint(value: string, source: string): string {
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw usageError(`${source} ${shown(value)} is not a URL`, 'give the IMDS base URL, e.g. http://169.254.169.254')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`${source} ${shown(value)} is not an http(s) URL`, 'give the IMDS base URL, e.g. http://169.254.169.254')
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw usageError(`${source} ${shown(value)} has credentials, a query or a fragment`, 'give only scheme, host, port and an optional base path')
  }
  const base = `${url.protocol}//${url.host}${url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`}`
  // Every IMDS line names the endpoint; no real one comes near this.
  if (base.length > 200) throw usageError(`${source} ${shown(value)} is longer than 200 characters`, 'give the IMDS base URL, e.g. http://169.254.169.254')
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
      throw usageError(`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=${shown(mode)} is neither IPv4 nor IPv6`, 'set it to IPv4 or IPv6, or unset it')
    }
  }
  return normalizeEndpoint(ipv4Endpoint, 'default')
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
    throw usageError(`${source} ${shown(value)} is not a number of seconds ${range}`, `give plain decimal seconds; the default is ${defaultSeconds} (e.g. ${source.startsWith('-') ? `${source} ${defaultSeconds}` : `${source}=${defaultSeconds}`})`)
  }
  return Math.round(seconds * 1000)
}

export const defaultLockTimeoutSeconds = 30

/** How long to wait for another run of this tool that holds the lock on a config file (0: not at all). */
export function lockTimeoutMs(env: Env): number {
  const value = nonEmpty(env[envNames.lockTimeout])
  return value === undefined ? defaultLockTimeoutSeconds * 1000 : parseSeconds(value, envNames.lockTimeout, defaultLockTimeoutSeconds, true)
}

function parseSignature(value: string, source: string): SignatureKind {
  const v = value.trim().toLowerCase()
  if (v === 'pkcs7' || v === 'rsa2048') return v
  throw usageError(`${source} ${shown(value)} is not a signature kind`, 'use pkcs7 (default) or rsa2048')
}

function parseUsername(value: string, source: string): string {
  if (value === '' || value.includes(':') || /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(value)) {
    throw usageError(`${source} must be non-empty, without ':' or control characters`, `the default is ${defaultUsername}`)
  }
  return value
}

export interface OutputFlags {
  json?: boolean
  quiet?: boolean
  verbose?: boolean
}

/** --json, --quiet and --verbose, with their variables; shared by every command. */
export function resolveOutput(flags: OutputFlags, env: Env): { verbosity: Verbosity; json: boolean } {
  const jsonEnv = env[envNames.json]
  const json = flags.json ?? (jsonEnv === undefined ? false : parseBoolean(envNames.json, jsonEnv))
  if (flags.quiet && flags.verbose) throw usageError('--quiet and --verbose are mutually exclusive', 'pass one of them')
  let verbosity: Verbosity = flags.quiet ? 'quiet' : flags.verbose ? 'verbose' : 'normal'
  const levelEnv = nonEmpty(env[envNames.verbosity])
  if (!flags.quiet && !flags.verbose && levelEnv !== undefined) {
    const v = levelEnv.trim().toLowerCase()
    if (v !== 'quiet' && v !== 'normal' && v !== 'verbose') {
      throw usageError(`${envNames.verbosity}=${shown(levelEnv)} is not a log level`, 'use quiet, normal or verbose')
    }
    verbosity = v
  }
  return { verbosity, json }
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

/**
 * Every setting of write (and check, which passes `registryRequired: false`) from the flags and
 * `env`; `origin` names where each variable came from, for messages.
 */
export function resolveWriteOptions(flags: WriteFlags, env: Env, origin: VariableOrigin = processOrigin, registryRequired = true, timeoutDefault = defaultTimeoutSeconds): WriteOptions {
  const label = (name: string): string => variableLabel(name, origin)
  const registries = registryRequired ? requireRegistries(flags, env, origin) : parseRegistryList(registrySetting(flags, env, origin)?.items ?? [])
  const config = configSetting(flags, env, origin)

  const usernameFlag = flags.username ?? env[envNames.username]
  const username = usernameFlag === undefined ? defaultUsername : parseUsername(usernameFlag, flags.username !== undefined ? '--username' : label(envNames.username))

  const signatureValue = flags.signature ?? nonEmpty(env[envNames.signature])
  const signature = signatureValue === undefined ? 'pkcs7' : parseSignature(signatureValue, flags.signature !== undefined ? '--signature' : label(envNames.signature))

  const stripEnv = env[envNames.stripNewlines]
  const stripNewlines = flags.stripNewlines ?? (stripEnv === undefined ? false : parseBoolean(label(envNames.stripNewlines), stripEnv))

  const timeoutValue = flags.timeout ?? nonEmpty(env[envNames.timeout])
  const timeoutMs = timeoutValue === undefined ? timeoutDefault * 1000 : parseSeconds(timeoutValue, flags.timeout !== undefined ? '--timeout' : label(envNames.timeout), timeoutDefault)

  const { verbosity, json } = resolveOutput(flags, env)
  const attemptValue = nonEmpty(env[envNames.attemptTimeout])
  const attemptTimeoutMs = attemptValue === undefined ? defaultAttemptTimeoutSeconds * 1000 : parseSeconds(attemptValue, label(envNames.attemptTimeout), defaultAttemptTimeoutSeconds)

  const disabled = env['AWS_EC2_METADATA_DISABLED']
  const platform = (nonEmpty(env[envNames.platform]) ?? 'auto').trim().toLowerCase()
  if (platform !== 'auto' && platform !== 'ec2' && platform !== 'other') throw usageError(`${label(envNames.platform)}=${shown(env[envNames.platform]!)} is not a platform`, 'use auto (the default: detect EC2), ec2 or other')
  return {
    registries,
    config,
    username,
    signature,
    stripNewlines,
    endpoint: resolveEndpoint(flags.endpoint, env),
    timeoutMs,
    attemptTimeoutMs,
    dryRun: flags.dryRun ?? false,
    json,
    verbosity,
    imdsDisabled: disabled !== undefined && disabled.trim().toLowerCase() === 'true',
    platform,
    sysfs: nonEmpty(env[envNames.sysfs])?.trim() ?? '/sys',
  }
}
