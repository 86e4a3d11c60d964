// One config file, changed safely: lock, read, plan (a pure function of the document), write
// atomically, and re-plan if another writer got in between, each with the rights acting-user.ts
// chooses. Used by `write`, `remove` and `install --credential-helper`.

import { basename, dirname } from 'node:path'
import { type ConfigDocument, maxConfigBytes, parseConfig, renderConfig } from '../config/docker-config.js'
import type { MergeChanges, MergePlan } from '../config/merge.js'
import { CliError, ExitCode, exitCodeOf } from '../errors.js'
import type { ConfigLocation } from '../config/locations.js'
import {
  type ConfigFileSnapshot,
  type FileIdentity,
  type FileSystem,
  currentIdentity,
  ensureDirectory,
  nodeFileSystem,
  readConfigFile,
  removeLeftoverTemps,
  sameFile,
  tempPattern,
  writeAtomic,
} from './config-file.js'
import { acquireLock, acquireLockIfFree, lockPathFor } from './lock.js'
import { withRightsFor } from './acting-user.js'
import type { Logger } from '../log.js'

export type ConfigAction = 'written' | 'unchanged' | 'would-write' | 'failed'

export interface ErrorInfo {
  readonly exitCode: number
  readonly message: string
  readonly hint: string | undefined
}

export interface ConfigOutcome {
  readonly path: string
  readonly source: string
  readonly target: string | undefined
  readonly action: ConfigAction
  readonly changes: MergeChanges | undefined
  readonly warnings: readonly string[]
  readonly error: ErrorInfo | undefined
  /** --dry-run only: the mode and owner the file would have; what changes is in `changes`. */
  readonly preview: FilePreview | undefined
}

/** No content at all, so a preview cannot show anyone's credential. */
export interface FilePreview {
  readonly exists: boolean
  readonly mode: number
  readonly uid: number
  readonly gid: number
}

/** An existing file keeps its mode and owner; a new one is 0600 and belongs to whoever creates it (withRightsFor). */
const previewOf = (identity: FileIdentity | undefined): FilePreview =>
  identity === undefined
    ? { exists: false, mode: 0o600, uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 }
    : { exists: true, mode: identity.mode & 0o777, uid: identity.uid, gid: identity.gid }

export interface UpdateOptions {
  readonly dryRun: boolean
  readonly log: Logger
  readonly lockTimeoutMs: number
  /** The plan writes a credential: say so when the file lets group or others read it. */
  readonly credential?: boolean
  /** The file system the write and its re-checks go through; tests wrap it to inject faults or another writer. */
  readonly fs?: FileSystem
  /** preflight's read of this file, if it made one. */
  readonly firstLook?: FirstLook
}

/** How many times we re-read and re-plan when another writer changes the file under us. */
const maxRounds = 5

export const errorInfo = (error: unknown): ErrorInfo => ({
  exitCode: exitCodeOf(error),
  message: error instanceof Error ? error.message : String(error),
  hint: error instanceof CliError ? error.hint : undefined,
})

const hasChanges = (c: MergeChanges): boolean => c.added.length + c.updated.length + c.removed.length > 0

/** A config file as read and parsed, before anything else happens to it. */
export interface FirstLook {
  readonly target: string
  readonly snapshot: ConfigFileSnapshot
  readonly document: ConfigDocument
}

async function load(target: string, path: string): Promise<FirstLook> {
  const snapshot = await readConfigFile(target, maxConfigBytes)
  return { target, snapshot, document: parseConfig(snapshot.bytes, path) }
}

/**
 * Reads and parses every config file before anything slow happens: when none can be used, the run
 * ends at once (exit 78) rather than after a long wait for IMDS; a broken one among good ones is
 * reported with their outcomes, and the good ones are still written. The update starts from these.
 */
export async function preflight(locations: readonly ConfigLocation[]): Promise<Array<FirstLook | CliError>> {
  const looks: Array<FirstLook | CliError> = []
  for (const location of locations) {
    try {
      looks.push(await withRightsFor(location.path, (target) => load(target, location.path)))
    } catch (error) {
      if (!(error instanceof CliError)) throw error
      looks.push(error)
    }
  }
  return looks
}

/** Changes the file `location` names, whose real path `target` is (withRightsFor resolves it). */
export async function updateConfigFile(
  location: ConfigLocation,
  target: string,
  plan: (doc: ConfigDocument) => MergePlan,
  options: UpdateOptions,
): Promise<ConfigOutcome> {
  const { path } = location
  const fs = options.fs ?? nodeFileSystem
  if (target !== path) options.log.debug(`${path} is a symlink; writing its target ${target}`)
  const base = { path, source: location.source, target, error: undefined }

  // A lockless first look (preflight's, if it read this file): when nothing would change we write
  // nothing, create no directory and take no lock (the common "already current" boot).
  const first = options.firstLook?.target === target ? options.firstLook : await load(target, path)
  const firstPlan = plan(first.document)
  if (!hasChanges(firstPlan.changes) || options.dryRun) {
    const action = !hasChanges(firstPlan.changes) ? 'unchanged' : 'would-write'
    const preview = options.dryRun ? previewOf(first.snapshot.identity) : undefined
    const warnings = [...firstPlan.warnings]
    if (!options.dryRun && (await hasLeftovers(target))) {
      const problem = await cleanUpLeftovers(target, options)
      if (problem !== undefined) warnings.push(problem)
    }
    if (action === 'would-write') warnings.push(...readableBy(first.snapshot, options))
    return { ...base, action, changes: firstPlan.changes, warnings, preview }
  }

  await ensureDirectory(dirname(target))
  const release = await acquireLock(target, {
    timeoutMs: options.lockTimeoutMs,
    onWait: (holder) => options.log.info(`waiting for process ${holder.pid}, which is writing ${path}`),
  })
  let thrown = false
  try {
    await removeStaleTemps(target, options.log)
    for (let round = 0; round < maxRounds; round++) {
      const unchanged = round === 0 && sameFile(first.snapshot.identity, await currentIdentity(target, fs))
      const { snapshot, document } = unchanged ? first : await load(target, path)
      // Unchanged since the first look: so is the plan.
      const result = document === first.document ? firstPlan : plan(document)
      if (!hasChanges(result.changes))
        return { ...base, action: 'unchanged', changes: result.changes, warnings: result.warnings, preview: undefined }
      const warnings = [...result.warnings]
      const content = renderConfig(result.root)
      // Docker's layout can make a compact file longer: one past the cap could never be read again,
      // not even to remove this entry.
      if (Buffer.byteLength(content) > maxConfigBytes) {
        throw new CliError(
          ExitCode.configUnusable,
          `${path} would grow past ${maxConfigBytes / 1024 / 1024} MiB in Docker's layout; nothing was changed`,
          {
            hint: 'remove entries that are no longer used from it, and run again',
          },
        )
      }
      const committed = await writeAtomic(target, content, {
        previous: snapshot.identity,
        onWarning: (w) => warnings.push(w),
        fs,
        stillCurrent: async () => sameFile(snapshot.identity, await currentIdentity(target, fs)),
      })
      if (committed)
        return {
          ...base,
          action: 'written',
          changes: result.changes,
          warnings: [...warnings, ...readableBy(snapshot, options)],
          preview: undefined,
        }
      options.log.debug(`${path} changed while we were writing it; merging again`)
    }
    throw new CliError(
      ExitCode.cannotWrite,
      `${path} kept changing while we tried to write it (${maxRounds} times); the file was not changed`,
      {
        hint: 'another program is rewriting it in a loop; stop it and run again',
      },
    )
  } catch (error) {
    thrown = true
    throw error
  } finally {
    // After a failure, its own error is the one to report: a lock that cannot be removed then has the same cause.
    await (thrown ? release().catch(() => {}) : release())
  }
}

/** Whether a killed run left a lock or temp file beside the target (one readdir). */
async function hasLeftovers(target: string): Promise<boolean> {
  const names = await nodeFileSystem.readdir(dirname(target)).catch(() => [] as string[])
  const pattern = tempPattern(target)
  return names.some((n) => n === basename(lockPathFor(target)) || pattern.test(n))
}

/**
 * A run killed mid-write left its lock or temp file: clean up under the lock, as a write would, but
 * only if the lock is free or stale. A live holder is another run that cleans up itself; this run
 * has nothing to write, so it neither waits for it nor fails. What stops the cleanup (something
 * else at the lock path, a read-only filesystem) is returned as a warning: the entry is current.
 */
async function cleanUpLeftovers(target: string, options: UpdateOptions): Promise<string | undefined> {
  let release: (() => Promise<void>) | undefined
  try {
    release = await acquireLockIfFree(target, { timeoutMs: options.lockTimeoutMs })
  } catch (error) {
    if (!(error instanceof CliError)) throw error
    return `${error.message.replace(/; the file was not changed$/, '')}${error.hint === undefined ? '' : `; fix: ${error.hint}`}`
  }
  if (release !== undefined) await removeStaleTemps(target, options.log).finally(release)
  return undefined
}

/** Deletes the temp files a run killed mid-write left (removeLeftoverTemps); safe only under the lock. */
async function removeStaleTemps(target: string, log: Logger): Promise<void> {
  for (const path of await removeLeftoverTemps(target)) log.debug(`removed ${path}, left by a run that was killed mid-write`)
}

/** A warning when a file that will hold the credential keeps a mode that lets group or others read it. */
function readableBy(snapshot: ConfigFileSnapshot, options: UpdateOptions): string[] {
  const mode = snapshot.identity?.mode
  if (!options.credential || mode === undefined || (mode & 0o077) === 0) return []
  return [`its mode ${mode.toString(8).padStart(4, '0')} lets group or others read the credential; fix: chmod 600 it`]
}

/** Runs updateConfigFile on each location (starting from preflight's `looks`, in the same order). */
export async function updateAll(
  locations: readonly ConfigLocation[],
  plan: (doc: ConfigDocument) => MergePlan,
  options: UpdateOptions,
  looks: ReadonlyArray<FirstLook | CliError> = [],
): Promise<ConfigOutcome[]> {
  const outcomes: ConfigOutcome[] = []
  for (const [i, location] of locations.entries()) {
    const firstLook = looks[i]
    try {
      if (firstLook instanceof CliError) throw firstLook
      outcomes.push(
        await withRightsFor(location.path, (target) =>
          updateConfigFile(location, target, plan, firstLook === undefined ? options : { ...options, firstLook }),
        ),
      )
    } catch (error) {
      if (!(error instanceof CliError)) throw error
      outcomes.push({
        path: location.path,
        source: location.source,
        target: undefined,
        action: 'failed',
        changes: undefined,
        warnings: [],
        error: errorInfo(error),
        preview: undefined,
      })
    }
  }
  return outcomes
}

/** The exit code of the first failed file, else 0. */
export const firstFailure = (outcomes: readonly ConfigOutcome[]): ErrorInfo | undefined =>
  outcomes.find((c) => c.error !== undefined)?.error
