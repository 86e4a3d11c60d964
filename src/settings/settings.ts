// The settings every mode runs with (write, check, the credential helper, the kubelet provider):
// flags win over IID_DOCKER_AUTH_* variables, which win over the unit's settings file (for the
// modes that read it: withSettingsFile), which wins over defaults. One resolver, so that each value
// is read, trimmed and named by its real source the same way everywhere.

import { shown, usageError } from '../errors.js'
import { defaultUsername } from '../imds/identity.js'
import { type NormalizedRegistry, parseRegistryList } from '../config/registry-keys.js'
import type { PlatformSetting } from '../imds/platform.js'
import type { Verbosity } from '../log.js'
import {
  type Env,
  type ListSetting,
  type VariableOrigin,
  configSetting,
  defaultAttemptTimeoutSeconds,
  defaultTimeoutSeconds,
  envNames,
  nonEmpty,
  parseBoolean,
  parseSeconds,
  processOrigin,
  registrySetting,
  requireRegistries,
  resolveEndpoint,
  variableLabel,
} from './values.js'

export type SignatureKind = 'pkcs7' | 'rsa2048'

export interface OutputFlags {
  json?: boolean
  quiet?: boolean
  verbose?: boolean
}

/** The values a command line gives, as commander hands them over; undefined means "not given". */
export interface SettingFlags extends OutputFlags {
  registry?: string[]
  config?: string[]
  username?: string
  signature?: string
  stripNewlines?: boolean
  endpoint?: string
  timeout?: string
  dryRun?: boolean
}

export interface Settings {
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

function parseSignature(value: string, source: string): SignatureKind {
  const v = value.trim().toLowerCase()
  if (v === 'pkcs7' || v === 'rsa2048') return v
  throw usageError(`${source} ${shown(value)} is not a signature kind`, 'use pkcs7 (default) or rsa2048')
}

const unsafeInUsername = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

function parseUsername(value: string, source: string): string {
  if (value === '' || value.includes(':') || unsafeInUsername.test(value)) {
    throw usageError(`${source} must be non-empty, without ':' or control characters`, `the default is ${defaultUsername}`)
  }
  return value
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
 * Every setting from the flags and `env`; `origin` names where each variable came from, for
 * messages. check passes `registryRequired: false` and its own default deadline.
 */
export function resolveSettings(
  flags: SettingFlags,
  env: Env,
  origin: VariableOrigin = processOrigin,
  registryRequired = true,
  timeoutDefault = defaultTimeoutSeconds,
): Settings {
  const label = (name: string): string => variableLabel(name, origin)
  // The flag's name in a message when the flag gave the value, else the variable and where it was set.
  const source = (flag: string | undefined, name: string, flagName: string): string => (flag !== undefined ? flagName : label(name))
  const registries = registryRequired
    ? requireRegistries(flags, env, origin)
    : parseRegistryList(registrySetting(flags, env, origin)?.items ?? [])
  const config = configSetting(flags, env, origin)

  const usernameValue = flags.username ?? env[envNames.username]
  const username =
    usernameValue === undefined ? defaultUsername : parseUsername(usernameValue, source(flags.username, envNames.username, '--username'))

  const signatureValue = flags.signature ?? nonEmpty(env[envNames.signature])
  const signature =
    signatureValue === undefined ? 'pkcs7' : parseSignature(signatureValue, source(flags.signature, envNames.signature, '--signature'))

  const stripEnv = env[envNames.stripNewlines]
  const stripNewlines = flags.stripNewlines ?? (stripEnv === undefined ? false : parseBoolean(label(envNames.stripNewlines), stripEnv))

  const timeoutValue = flags.timeout ?? nonEmpty(env[envNames.timeout])
  const timeoutMs =
    timeoutValue === undefined
      ? timeoutDefault * 1000
      : parseSeconds(timeoutValue, source(flags.timeout, envNames.timeout, '--timeout'), timeoutDefault)

  const { verbosity, json } = resolveOutput(flags, env)
  const attemptValue = nonEmpty(env[envNames.attemptTimeout])
  const attemptTimeoutMs =
    attemptValue === undefined
      ? defaultAttemptTimeoutSeconds * 1000
      : parseSeconds(attemptValue, label(envNames.attemptTimeout), defaultAttemptTimeoutSeconds)

  const disabled = env['AWS_EC2_METADATA_DISABLED']
  const platform = (nonEmpty(env[envNames.platform]) ?? 'auto').trim().toLowerCase()
  if (platform !== 'auto' && platform !== 'ec2' && platform !== 'other') {
    const fix = 'use auto (the default: detect EC2), ec2 or other'
    throw usageError(`${label(envNames.platform)}=${shown(env[envNames.platform]!)} is not a platform`, fix)
  }
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
