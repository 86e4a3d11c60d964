// `write`: the identity from IMDS, merged into each config file. Plans are pure (docker-config.ts);
// this module sequences the effects and reports what happened.

import { dirname } from 'node:path'
import { type AuthEntry, type MergeChanges, maxConfigBytes, parseConfig, planMerge, redact, renderConfig } from './docker-config.js'
import { CliError, ExitCode, exitCodeOf } from './errors.js'
import { type ConfigLocation, currentIdentity, ensureDirectory, readConfigFile, resolveTarget, sameFile, writeAtomic } from './config-file.js'
import { buildAuth, type InstanceIdentity } from './identity.js'
import { acquireLock } from './lock.js'
import type { Logger } from './log.js'
import type { WriteOptions } from './options.js'

export type ConfigAction = 'written' | 'unchanged' | 'would-write' | 'failed'

export interface ConfigOutcome {
  readonly path: string
  readonly source: string
  readonly target: string | undefined
  readonly action: ConfigAction
  readonly changes: MergeChanges | undefined
  readonly warnings: readonly string[]
  readonly error: { readonly exitCode: number; readonly message: string; readonly hint: string | undefined } | undefined
  /** --dry-run only: the file as it would be, credentials redacted. */
  readonly preview: string | undefined
}

export interface WriteDeps {
  readonly fetchIdentity: () => Promise<InstanceIdentity>
  readonly log: Logger
  readonly lockTimeoutMs: number
  /** Test hook: runs just before the pre-rename re-check, where another writer could step in. */
  readonly beforeCommit?: (target: string) => Promise<void>
}

/** How many times we re-read and re-merge when another writer changes the file under us. */
const maxMergeRounds = 5

const errorInfo = (error: unknown): ConfigOutcome['error'] => ({
  exitCode: exitCodeOf(error),
  message: error instanceof Error ? error.message : String(error),
  hint: error instanceof CliError ? error.hint : undefined,
})

/**
 * Checks before IMDS is asked that every config file can be read and parsed, so a broken file is
 * reported at once (exit 78) rather than after a long wait for the identity.
 */
export async function preflight(locations: readonly ConfigLocation[]): Promise<void> {
  for (const location of locations) {
    const target = await resolveTarget(location.path)
    const snapshot = await readConfigFile(target, maxConfigBytes)
    parseConfig(snapshot.bytes, location.path)
  }
}

async function mergeInto(location: ConfigLocation, entries: readonly AuthEntry[], options: WriteOptions, deps: WriteDeps): Promise<ConfigOutcome> {
  const { path } = location
  const target = await resolveTarget(path)
  if (target !== path) deps.log.debug(`${path} is a symlink; writing its target ${target}`)
  const base = { path, source: location.source, target, error: undefined }

  if (options.dryRun) {
    const snapshot = await readConfigFile(target, maxConfigBytes)
    const plan = planMerge(parseConfig(snapshot.bytes, path), entries)
    const changed = plan.changes.added.length + plan.changes.updated.length + plan.changes.removed.length > 0
    return { ...base, action: changed ? 'would-write' : 'unchanged', changes: plan.changes, warnings: plan.warnings, preview: renderConfig(redact(plan.root)) }
  }

  await ensureDirectory(dirname(target))
  const release = await acquireLock(target, {
    timeoutMs: deps.lockTimeoutMs,
    onWait: (holder) => deps.log.info(`waiting for process ${holder.pid}, which is writing ${path}`),
  })
  try {
    for (let round = 0; round < maxMergeRounds; round++) {
      const snapshot = await readConfigFile(target, maxConfigBytes)
      const plan = planMerge(parseConfig(snapshot.bytes, path), entries)
      const changed = plan.changes.added.length + plan.changes.updated.length + plan.changes.removed.length > 0
      if (!changed) return { ...base, action: 'unchanged', changes: plan.changes, warnings: plan.warnings, preview: undefined }
      const committed = await writeAtomic(target, renderConfig(plan.root), {
        previous: snapshot.identity,
        stillCurrent: async () => {
          await deps.beforeCommit?.(target)
          return sameFile(snapshot.identity, await currentIdentity(target))
        },
      })
      if (committed) return { ...base, action: 'written', changes: plan.changes, warnings: plan.warnings, preview: undefined }
      deps.log.debug(`${path} changed while we were writing it; merging again`)
    }
    throw new CliError(ExitCode.cannotWrite, `${path} kept changing while we tried to write it (${maxMergeRounds} times); the file was not changed`, {
      hint: 'another program is rewriting it in a loop; stop it and run again',
    })
  } finally {
    await release()
  }
}

export interface WriteResult {
  readonly exitCode: number
  readonly identity: InstanceIdentity | undefined
  readonly configs: readonly ConfigOutcome[]
  readonly error: ConfigOutcome['error']
}

export async function runWrite(options: WriteOptions, locations: readonly ConfigLocation[], deps: WriteDeps): Promise<WriteResult> {
  const { log } = deps
  for (const r of options.registries) {
    if (r.reducedFrom !== undefined) log.info(`registry ${JSON.stringify(r.reducedFrom)} reduced to ${r.key}`)
  }
  for (const l of locations) log.debug(`config file ${l.path} (from ${l.source})`)

  try {
    await preflight(locations)
  } catch (error) {
    return { exitCode: exitCodeOf(error), identity: undefined, configs: [], error: errorInfo(error) }
  }

  if (options.imdsDisabled) {
    const error = new CliError(ExitCode.imdsUnavailable, 'AWS_EC2_METADATA_DISABLED=true: not contacting IMDS', {
      hint: 'unset AWS_EC2_METADATA_DISABLED to let this tool read the instance identity',
    })
    return { exitCode: error.exitCode, identity: undefined, configs: [], error: errorInfo(error) }
  }

  let identity: InstanceIdentity
  try {
    log.debug(`asking IMDS at ${options.endpoint} for the identity (${options.signature}), deadline ${options.timeoutMs / 1000} s`)
    identity = await deps.fetchIdentity()
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    return { exitCode: error.exitCode, identity: undefined, configs: [], error: errorInfo(error) }
  }
  log.debug(`identity: instance ${identity.instanceId}, account ${identity.accountId}, region ${identity.region}`)
  if (identity.embeddedMismatch) {
    log.warn('the document embedded in the PKCS7 differs from the document IMDS served (a proxy or a stale cache in between?); using them as served')
  }

  const auth = buildAuth(options.username, identity.signature, options.stripNewlines)
  const entries = options.registries.map((r) => ({ key: r.key, auth }))
  const configs: ConfigOutcome[] = []
  for (const location of locations) {
    try {
      configs.push(await mergeInto(location, entries, options, deps))
    } catch (error) {
      if (!(error instanceof CliError)) throw error
      configs.push({ path: location.path, source: location.source, target: undefined, action: 'failed', changes: undefined, warnings: [], error: errorInfo(error), preview: undefined })
    }
  }
  const firstFailure = configs.find((c) => c.error !== undefined)
  return { exitCode: firstFailure?.error?.exitCode ?? ExitCode.ok, identity, configs, error: firstFailure?.error }
}
