// `remove`: delete this tool's entries, so that an image baked on a builder instance does not
// carry the builder's identity. No IMDS involved.

import type { ConfigLocation } from '../fs/config-file.js'
import { type ConfigOutcome, type ErrorInfo, firstFailure, updateAll } from '../fs/update.js'
import { planRemove } from '../config/docker-config.js'
import { ExitCode } from '../errors.js'
import type { Logger } from '../cli/log.js'
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
  const configs = await updateAll(locations, (doc) => planRemove(doc, keys, request.username), { dryRun: request.dryRun, log: deps.log, lockTimeoutMs: deps.lockTimeoutMs })
  const failure = firstFailure(configs)
  return { exitCode: failure?.exitCode ?? ExitCode.ok, configs, error: failure }
}
