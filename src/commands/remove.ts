// `remove`: delete this tool's entries, so that an image baked on a builder instance does not
// carry the builder's identity. No IMDS involved.

import { type ConfigLocation, locationsFor } from '../config/locations.js'
import { type CliIo, loggerFor } from '../cli/io.js'
import { type OutputFlags, resolveOutput } from '../settings/settings.js'
import { configSetting, envNames, lockTimeoutMs, requireRegistries } from '../settings/values.js'
import { jsonConfigs, jsonError, reportConfigs } from '../cli/report.js'
import { defaultUsername } from '../imds/identity.js'
import { type ConfigOutcome, type ErrorInfo, firstFailure, updateAll } from '../fs/update-config-file.js'
import { planRemove } from '../config/merge.js'
import { ExitCode } from '../errors.js'
import type { Logger } from '../log.js'
import type { NormalizedRegistry } from '../config/registry-keys.js'

export interface RemoveResult {
  readonly exitCode: number
  readonly configs: readonly ConfigOutcome[]
  readonly error: ErrorInfo | undefined
}

export async function runRemove(
  request: { readonly registries: readonly NormalizedRegistry[]; readonly username: string; readonly dryRun: boolean },
  locations: readonly ConfigLocation[],
  deps: { readonly log: Logger; readonly lockTimeoutMs: number },
): Promise<RemoveResult> {
  const keys = request.registries.map((r) => r.key)
  const configs = await updateAll(locations, (doc) => planRemove(doc, keys, request.username), {
    dryRun: request.dryRun,
    log: deps.log,
    lockTimeoutMs: deps.lockTimeoutMs,
  })
  const failure = firstFailure(configs)
  return { exitCode: failure?.exitCode ?? ExitCode.ok, configs, error: failure }
}

export interface RemoveFlags extends OutputFlags {
  registry?: string[]
  config?: string[]
  username?: string
  dryRun?: boolean
}

export async function remove(flags: RemoveFlags, io: CliIo): Promise<number> {
  const output = resolveOutput(flags, io.env)
  const log = loggerFor(output.verbosity, io)
  const registries = requireRegistries(flags, io.env)
  const locations = locationsFor(configSetting(flags, io.env), io)
  const username = flags.username ?? io.env[envNames.username] ?? defaultUsername
  const result = await runRemove({ registries, username, dryRun: flags.dryRun ?? false }, locations, {
    log,
    lockTimeoutMs: lockTimeoutMs(io.env),
  })
  reportConfigs(result.configs, flags.dryRun ?? false, 'remove', log, io, output.json)
  if (output.json) {
    io.stdout(
      `${JSON.stringify({
        ok: result.exitCode === ExitCode.ok,
        exitCode: result.exitCode,
        command: 'remove',
        dryRun: flags.dryRun ?? false,
        configs: jsonConfigs(result.configs),
        error: jsonError(result.error),
      })}\n`,
    )
  }
  return result.exitCode
}
