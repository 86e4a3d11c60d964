// A lock file beside config.json so that two runs of this tool never lose each other's entries.
// It records pid, process start time and boot id, so a lock left by a dead or zombie process, or by
// a process of an earlier boot whose pid was reused, is recognised as stale and broken. Waits run
// on the monotonic clock, and no file time (wall-clock time) ever decides staleness.

import { type BigIntStats, type Stats, constants } from 'node:fs'
import { dirname } from 'node:path'
import { monotonicMs } from '../clock.js'
import { CliError, ExitCode, errnoOf } from '../errors.js'
import { type FileHandle, type FileSystem, nodeFileSystem } from './config-file.js'
import { cannotWrite } from './fs-errors.js'
import { type LockOwner, currentOwner, isStale, parseOwner } from './lock-owner.js'

export interface LockOptions {
  readonly timeoutMs: number
  readonly fs?: FileSystem
  /** Milliseconds on a monotonic clock (src/clock.ts); tests inject their own. */
  readonly now?: () => number
  readonly sleep?: (ms: number) => Promise<void>
  /** Called once when the lock is found held by a live process. */
  readonly onWait?: (holder: LockOwner) => void
}

export const lockPathFor = (target: string): string => `${target}.lock`

/**
 * A lock or break lock whose owner cannot be read (its writer died between creating and writing
 * it) is stale once this run has seen it unchanged for this long. Measured by this run on the
 * monotonic clock, never from the file's mtime: that is wall-clock time, which a clock step or a
 * planted file can put anywhere. A live writer fills the file within moments.
 */
export const ownerlessGraceMs = 2000

/** Takes the lock, waiting up to `timeoutMs`; returns its release function. Exit 73 on timeout. */
export async function acquireLock(target: string, options: LockOptions): Promise<() => Promise<void>> {
  return (await takeLock(target, options, true))!
}

/**
 * Takes the lock only if nobody alive holds it (a stale lock is broken first); returns undefined
 * at once when a live process holds it. For runs that have nothing to write and must not wait.
 */
export function acquireLockIfFree(target: string, options: LockOptions): Promise<(() => Promise<void>) | undefined> {
  return takeLock(target, options, false)
}

/** How long this run has seen the file at a path unchanged (by inode and content), on its own clock. */
type Sightings = (path: string, seen: { ino: bigint; text: string }) => number

function sightings(now: () => number): Sightings {
  const first = new Map<string, { key: string; since: number }>()
  return (path, seen) => {
    const key = `${seen.ino}:${seen.text}`
    const last = first.get(path)
    if (last?.key === key) return now() - last.since
    first.set(path, { key, since: now() })
    return 0
  }
}

/** Whether a lock file's owner is gone: by the owner it names, or, naming none, by how long it has sat unchanged. */
function staleLock(path: string, seen: { ino: bigint; text: string }, unchangedFor: Sightings): boolean {
  const owner = parseOwner(seen.text)
  return owner === undefined ? unchangedFor(path, seen) >= ownerlessGraceMs : isStale(owner)
}

async function takeLock(target: string, options: LockOptions, wait: boolean): Promise<(() => Promise<void>) | undefined> {
  const fs = options.fs ?? nodeFileSystem
  const now = options.now ?? monotonicMs
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const lockPath = lockPathFor(target)
  const me = JSON.stringify(currentOwner())
  const deadline = now() + options.timeoutMs
  const unchangedFor = sightings(now)
  let waitedFor: LockOwner | undefined
  let heldBy = 'another process'

  // Every path through this loop either returns, throws, or reaches the deadline check and sleeps:
  // whatever sits at the lock path, the wait ends by the deadline.
  for (;;) {
    if (await createOwned(fs, lockPath, me)) {
      return async () => {
        await fs.unlink(lockPath).catch((error: unknown) => {
          if (errnoOf(error) !== 'ENOENT')
            throw lockTrouble(lockPath, 'remove', error, 'it stays behind, and runs stop on it until it is removed')
        })
      }
    }

    const seen = await readLock(fs, lockPath)
    if (seen.kind === 'other') throw notALock(lockPath, seen.what)
    let pause = 0 // 'absent': released between our open and our read, or taken from under a slow writer
    if (seen.kind !== 'absent') {
      const holder = seen.kind === 'lock' ? parseOwner(seen.text) : undefined
      if (seen.kind === 'lock' && staleLock(lockPath, seen, unchangedFor)) {
        const blocked = await breakStaleLock(fs, lockPath, seen, me, unchangedFor)
        if (blocked !== undefined) heldBy = blocked
        pause = 5
      } else {
        if (!wait) return undefined
        if (holder !== undefined && waitedFor === undefined) {
          waitedFor = holder
          options.onWait?.(holder)
        }
        heldBy =
          holder !== undefined
            ? `process ${holder.pid}`
            : seen.kind === 'lock'
              ? 'a run that has not written its owner into it'
              : 'another process'
        pause = 20 + Math.floor(Math.random() * 30)
      }
    }
    if (now() >= deadline) {
      throw new CliError(
        ExitCode.cannotWrite,
        `${lockPath} is held by ${heldBy}, still running after ${Math.round(options.timeoutMs / 1000)} s; the file was not changed`,
        {
          hint: 'wait for that run of iid-docker-auth to finish; if no such process exists, remove the lock file',
        },
      )
    }
    await sleep(pause)
  }
}

/**
 * Creates the file with our owner in it, unless it exists (false). A file that is empty for a
 * moment may be broken by another run that waited long on it: ours is checked to still be there.
 */
async function createOwned(fs: FileSystem, path: string, me: string): Promise<boolean> {
  let handle: FileHandle | undefined
  try {
    handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false
    throw lockTrouble(path, 'write', error, 'the file was not changed')
  }
  let failure: unknown
  await handle.writeFile(me).catch((error: unknown) => (failure = error))
  const ours = await handle.stat({ bigint: true }).then(
    (s) => s.ino,
    () => undefined,
  )
  await handle.close().catch((error: unknown) => (failure ??= error))
  if (failure !== undefined) {
    // An empty lock (a full disk) would make the next run wait for nobody: take it away.
    await fs.unlink(path).catch(() => {})
    throw cannotWrite(path, failure)
  }
  // Only a sure sign that it is gone counts: otherwise this run would wait for itself.
  const there = await fs.stat(path, { bigint: true }).then(
    (s) => s.ino,
    (error: unknown) => (errnoOf(error) === 'ENOENT' ? undefined : ours),
  )
  return ours === undefined || there === ours
}

/** Something this tool never creates sits at the lock path: no wait would ever end it. */
const notALock = (lockPath: string, what: string): CliError =>
  new CliError(ExitCode.cannotWrite, `${lockPath} is ${what}, not a lock file; the file was not changed`, {
    hint: `remove it (rm -r ${lockPath}); this tool creates its lock file itself`,
  })

type SeenLock =
  | { readonly kind: 'absent' }
  /** A regular file: this tool's lock. */
  | { readonly kind: 'lock'; readonly text: string; readonly ino: bigint }
  /** A regular file that cannot be read (permissions): held by someone we cannot name. */
  | { readonly kind: 'unreadable' }
  /** Not a regular file (directory, symlink, FIFO, ...): never a lock of this tool. */
  | { readonly kind: 'other'; readonly what: string }

/** What a non-regular file is, for a message; undefined for a regular file. */
function kindOf(s: Stats | BigIntStats): string | undefined {
  if (s.isFile()) return undefined
  if (s.isDirectory()) return 'a directory'
  if (s.isSymbolicLink()) return 'a symbolic link'
  if (s.isFIFO()) return 'a FIFO'
  if (s.isSocket()) return 'a socket'
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device'
  return 'something other than a regular file'
}

/**
 * The lock's content and inode, read through one handle so that both belong to the same file.
 * Looks before it opens, and opens non-blocking, so that a FIFO or device there cannot block.
 */
/** More than any owner record this tool writes: a larger lock names no owner of ours. */
const maxLockBytes = 4096

async function readLock(fs: FileSystem, lockPath: string): Promise<SeenLock> {
  let handle: FileHandle
  try {
    const what = kindOf(await fs.lstat(lockPath))
    if (what !== undefined) return { kind: 'other', what }
    handle = await fs.open(lockPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { kind: 'absent' }
    if (errnoOf(error) === 'ELOOP') return { kind: 'other', what: 'a symbolic link' }
    return { kind: 'unreadable' }
  }
  try {
    const stats = await handle.stat({ bigint: true })
    const what = kindOf(stats)
    if (what !== undefined) return { kind: 'other', what }
    // Bounded: the lock sits in a directory its user may write, and could be made any size.
    const buffer = Buffer.alloc(maxLockBytes)
    const { bytesRead } = await handle.read(buffer, 0, maxLockBytes, 0)
    return { kind: 'lock', text: bytesRead === maxLockBytes ? '' : buffer.toString('utf8', 0, bytesRead), ino: stats.ino }
  } catch {
    return { kind: 'unreadable' }
  } finally {
    await handle.close()
  }
}

/**
 * Deletes a stale lock. Breakers take a second lock first and, holding it, delete the lock only if
 * it is still the very file judged stale (same inode and content): the holder it names is gone, so
 * nothing but a breaker can remove that file, and breakers take turns. Without this, a breaker that
 * judged a lock stale just as its holder released it could delete the next holder's live lock.
 * The break lock names its owner too, so one left by a killed breaker is stale as soon as it is seen.
 * Returns what blocks the break (a live breaker) for the timeout message, or undefined.
 */
async function breakStaleLock(
  fs: FileSystem,
  lockPath: string,
  stale: { text: string; ino: bigint },
  me: string,
  unchangedFor: Sightings,
): Promise<string | undefined> {
  const breakPath = `${lockPath}.break`
  if (!(await createOwned(fs, breakPath, me))) {
    const seen = await readLock(fs, breakPath)
    if (seen.kind === 'other') throw notALock(breakPath, seen.what)
    if (seen.kind === 'lock' && staleLock(breakPath, seen, unchangedFor)) {
      await fs.unlink(breakPath).catch((error: unknown) => {
        if (errnoOf(error) !== 'ENOENT')
          throw lockTrouble(breakPath, 'remove', error, `it and ${lockPath} stay behind; the file was not changed`)
      })
      return undefined
    }
    return `${breakPath} (another run breaking a stale lock)`
  }
  let trouble: CliError | undefined
  const current = await readLock(fs, lockPath)
  if (current.kind === 'lock' && current.ino === stale.ino && current.text === stale.text) {
    await fs.unlink(lockPath).catch((error: unknown) => {
      if (errnoOf(error) !== 'ENOENT')
        trouble = lockTrouble(lockPath, 'break the stale lock', error, `it and ${breakPath} stay behind; the file was not changed`)
    })
  }
  await fs.unlink(breakPath).catch((error: unknown) => {
    if (errnoOf(error) !== 'ENOENT') trouble ??= lockTrouble(breakPath, 'remove', error, 'it stays behind; the file was not changed')
  })
  if (trouble !== undefined) throw trouble
  return undefined
}

/** Why a lock file could not be created or removed: never a wait, and never "another process". */
function lockTrouble(path: string, doing: 'write' | 'remove' | 'break the stale lock', error: unknown, after: string): CliError {
  const code = errnoOf(error)
  // Creating it fails as any write does, except where a write's words would not name the cause.
  if (doing === 'write' && code !== 'EPERM') return cannotWrite(path, error)
  const dir = dirname(path)
  const cause =
    code === 'EPERM'
      ? [`operation not permitted: the directory may be append-only or immutable`, `check lsattr -d ${dir} (chattr -a -i ${dir})`]
      : code === 'EROFS'
        ? ['the filesystem is read-only', 'point --config at a writable location, or remount it read-write']
        : code === 'EACCES'
          ? ['permission denied', `check the permissions of ${dir}`]
          : undefined
  const [what, hint] = cause ?? [code ?? String(error), 'check the directory and its filesystem']
  return new CliError(ExitCode.cannotWrite, `cannot ${doing} ${path}: ${what}; ${after}`, { hint, cause: error })
}
