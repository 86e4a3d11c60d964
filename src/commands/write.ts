// `write`: the identity from IMDS, merged into each config file.

import { type ConfigLocation, locationsFor } from '../config/locations.js'
import { type CliIo, loggerFor } from '../cli/io.js'
import { jsonConfigs, jsonError, reportConfigs, reportError } from '../cli/report.js'
import { fetchIdentityFor } from '../imds/client.js'
import { type ConfigOutcome, type ErrorInfo, errorInfo, firstFailure, preflight, updateAll } from '../fs/update-config-file.js'
import type { FileSystem } from '../fs/config-file.js'
import { planMerge } from '../config/merge.js'
import { CliError, ExitCode, exitCodeOf } from '../errors.js'
import { buildAuth, type InstanceIdentity } from '../imds/identity.js'
import type { Logger } from '../log.js'
import { type SettingFlags, type Settings, resolveSettings } from '../settings/settings.js'
import { lockTimeoutMs } from '../settings/values.js'
import { monotonicMs } from '../clock.js'

export interface WriteDeps {
  readonly fetchIdentity: () => Promise<InstanceIdentity>
  readonly log: Logger
  readonly lockTimeoutMs: number
  readonly fs?: FileSystem
}

export interface WriteResult {
  readonly exitCode: number
  readonly identity: InstanceIdentity | undefined
  readonly configs: readonly ConfigOutcome[]
  readonly error: ErrorInfo | undefined
}

const failedEarly = (error: unknown): WriteResult => ({
  exitCode: exitCodeOf(error),
  identity: undefined,
  configs: [],
  error: errorInfo(error),
})

export async function runWrite(options: Settings, locations: readonly ConfigLocation[], deps: WriteDeps): Promise<WriteResult> {
  const { log } = deps
  for (const r of options.registries) {
    if (r.reducedFrom !== undefined) log.info(`registry ${JSON.stringify(r.reducedFrom)} reduced to ${r.key}`)
  }
  for (const l of locations) log.debug(`config file ${l.path} (from ${l.source})`)

  // Every file is tried; only when none can be used does the run end before asking IMDS.
  const looks = await preflight(locations)
  const usable = looks.filter((look) => !(look instanceof CliError))
  if (usable.length === 0 && looks[0] instanceof CliError) return failedEarly(looks[0])
  if (options.imdsDisabled) {
    return failedEarly(
      new CliError(ExitCode.imdsUnavailable, 'AWS_EC2_METADATA_DISABLED=true: not contacting IMDS', {
        hint: 'unset AWS_EC2_METADATA_DISABLED to let this tool read the instance identity',
      }),
    )
  }

  let identity: InstanceIdentity
  try {
    log.debug(`asking IMDS at ${options.endpoint} for the identity (${options.signature}), deadline ${options.timeoutMs / 1000} s`)
    identity = await deps.fetchIdentity()
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    return failedEarly(error)
  }
  log.debug(`identity: instance ${identity.instanceId}, account ${identity.accountId}, region ${identity.region}`)

  const auth = buildAuth(options.username, identity.signature, options.stripNewlines)
  const entries = options.registries.map((r) => ({ key: r.key, auth }))
  const configs = await updateAll(
    locations,
    (doc) => planMerge(doc, entries, options.username),
    { dryRun: options.dryRun, log, lockTimeoutMs: deps.lockTimeoutMs, credential: true, ...(deps.fs ? { fs: deps.fs } : {}) },
    looks,
  )
  const failure = firstFailure(configs)
  return { exitCode: failure?.exitCode ?? ExitCode.ok, identity, configs, error: failure }
}

/** The command: flags and environment in, lines on stderr (and --json on stdout) out. */
export async function write(flags: SettingFlags, io: CliIo): Promise<number> {
  const started = monotonicMs()
  const options = resolveSettings(flags, io.env)
  const log = loggerFor(options.verbosity, io)
  const result = await runWrite(options, locationsFor(options.config, io), {
    log,
    lockTimeoutMs: lockTimeoutMs(io.env),
    fetchIdentity: () => fetchIdentityFor(options, log),
  })
  reportConfigs(result.configs, options.dryRun, 'write', log, io, options.json)
  if (result.error !== undefined && result.configs.length === 0) reportError(result.error, log)
  if (options.json) {
    const id = result.identity
    const report = {
      ok: result.exitCode === ExitCode.ok,
      exitCode: result.exitCode,
      command: 'write',
      dryRun: options.dryRun,
      endpoint: options.endpoint,
      registries: options.registries.map((r) => r.key),
      identity:
        id === undefined
          ? null
          : { instanceId: id.instanceId, accountId: id.accountId, region: id.region, availabilityZone: id.availabilityZone ?? null },
      configs: jsonConfigs(result.configs),
      error: jsonError(result.error),
      durationMs: monotonicMs() - started,
    }
    io.stdout(`${JSON.stringify(report)}\n`)
  }
  return result.exitCode
}
