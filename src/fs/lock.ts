// A lock file beside config.json so that two runs of this tool never lose each other's entries.
// It records pid, process start time and boot id, so a lock left by a dead process, or by a process
// of an earlier boot whose pid was reused, is recognised as stale and broken.

import { type BigIntStats, type Stats, constants, readFileSync } from 'node:fs'
import { CliError, ExitCode, errnoOf } from '../errors.js'
import { type FileSystem, cannotWrite, nodeFileSystem } from './config-file.js'

export interface LockOwner {
  readonly pid: number
  readonly startTime: string
  readonly bootId: string
}

export interface LockOptions {
  readonly timeoutMs: number
  readonly fs?: FileSystem
  readonly now?: () => number
  readonly sleep?: (ms: number) => Promise<void>
  /** Called once when the lock is found held by a live process. */
  readonly onWait?: (holder: LockOwner) => void
}

export const lockPathFor = (target: string): string => `${target}.lock`

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
export function processStartTime(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
}

const bootId = (): string => readProc('/proc/sys/kernel/random/boot_id')?.trim() ?? 'unknown'

export function currentOwner(): LockOwner {
  return { pid: process.pid, startTime: processStartTime(process.pid) ?? 'unknown', bootId: bootId() }
}

export function parseOwner(text: string): LockOwner | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>
    if (typeof v.pid === 'number' && typeof v.startTime === 'string' && typeof v.bootId === 'string') {
      return { pid: v.pid, startTime: v.startTime, bootId: v.bootId }
    }
  } catch {
    // fall through
  }
  return undefined
}

/** Whether the recorded owner is certainly gone (dead, or a different process with a reused pid). */
export function isStale(owner: LockOwner): boolean {
  // A sandbox (ProcSubset=pid) hides the boot id; compare only when both sides could read it.
  const current = bootId()
  if (owner.bootId !== 'unknown' && current !== 'unknown' && owner.bootId !== current) return true
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if (errnoOf(error) === 'ESRCH') return true
  }
  const start = processStartTime(owner.pid)
  return start !== undefined && start !== owner.startTime
}

/** A lock whose content cannot be read is stale once it is this old (its writer died mid-write). */
const unreadableLockGraceMs = 5000

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

async function takeLock(target: string, options: LockOptions, wait: boolean): Promise<(() => Promise<void>) | undefined> {
  const fs = options.fs ?? nodeFileSystem
  const now = options.now ?? Date.now
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const lockPath = lockPathFor(target)
  const me = JSON.stringify(currentOwner())
  const deadline = now() + options.timeoutMs
  let waitedFor: LockOwner | undefined
  let heldBy = 'another process'

  // Every path through this loop either returns, throws, or reaches the deadline check and sleeps:
  // whatever sits at the lock path, the wait ends by the deadline.
  for (;;) {
    let handle
    try {
      handle = await fs.open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw cannotWrite(lockPath, error)
    }
    if (handle !== undefined) {
      let failure: unknown
      await handle.writeFile(me).catch((error: unknown) => (failure = error))
      await handle.close().catch((error: unknown) => (failure ??= error))
      if (failure !== undefined) {
        // An empty lock (a full disk) would make the next run wait for nobody: take it away.
        await fs.unlink(lockPath).catch(() => {})
        throw cannotWrite(lockPath, failure)
      }
      return async () => {
        await fs.unlink(lockPath).catch(() => {})
      }
    }

    const seen = await readLock(fs, lockPath)
    if (seen.kind === 'other') throw notALock(lockPath, seen.what)
    let pause = 0 // 'absent': released between our open and our read
    if (seen.kind !== 'absent') {
      const holder = seen.kind === 'lock' ? parseOwner(seen.text) : undefined
      if (seen.kind === 'lock' && (holder === undefined ? await olderThan(fs, lockPath, unreadableLockGraceMs, now) : isStale(holder))) {
        await breakStaleLock(fs, lockPath, seen, now)
        pause = 5
      } else {
        if (!wait) return undefined
        if (holder !== undefined && waitedFor === undefined) {
          waitedFor = holder
          options.onWait?.(holder)
        }
        heldBy = holder === undefined ? 'another process' : `process ${holder.pid}`
        pause = 20 + Math.floor(Math.random() * 30)
      }
    }
    if (now() >= deadline) {
      throw new CliError(ExitCode.cannotWrite, `${lockPath} is held by ${heldBy}, still running after ${Math.round(options.timeoutMs / 1000)} s; the file was not changed`, {
        hint: 'wait for that run of iid-docker-auth to finish; if no such process exists, remove the lock file',
      })
    }
    await sleep(pause)
  }
}

/** Something this tool never creates sits at the lock path: no wait would ever end it. */
const notALock = (lockPath: string, what: string): CliError =>
  new CliError(ExitCode.cannotWrite, `${lockPath} is ${what}, not a lock file; the file was not changed`, {
    hint: `remove it (rm -r ${lockPath}); this tool creates its lock file itself`,
  })

async function olderThan(fs: FileSystem, path: string, ms: number, now: () => number): Promise<boolean> {
  try {
    return now() - (await fs.stat(path)).mtimeMs > ms
  } catch {
    return false
  }
}

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
async function readLock(fs: FileSystem, lockPath: string): Promise<SeenLock> {
  let handle
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
    return { kind: 'lock', text: await handle.readFile('utf8'), ino: stats.ino }
  } catch {
    return { kind: 'unreadable' }
  } finally {
    await handle.close()
  }
}

/** A break lock older than this was left by a run killed while breaking a stale lock. */
const breakLockGraceMs = 5000

/**
 * Deletes a stale lock. Breakers take a second lock first and, holding it, delete the lock only if
 * it is still the very file judged stale (same inode and content): the holder it names is gone, so
 * nothing but a breaker can remove that file, and breakers take turns. Without this, a breaker that
 * judged a lock stale just as its holder released it could delete the next holder's live lock.
 */
async function breakStaleLock(fs: FileSystem, lockPath: string, stale: { text: string; ino: bigint }, now: () => number): Promise<void> {
  const breakPath = `${lockPath}.break`
  try {
    await (await fs.open(breakPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)).close()
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw cannotWrite(breakPath, error)
    const what = await fs.lstat(breakPath).then(kindOf, () => undefined)
    if (what !== undefined) throw notALock(breakPath, what)
    if (await olderThan(fs, breakPath, breakLockGraceMs, now)) await fs.unlink(breakPath).catch(() => {})
    return
  }
  try {
    const current = await readLock(fs, lockPath)
    if (current.kind === 'lock' && current.ino === stale.ino && current.text === stale.text) await fs.unlink(lockPath).catch(() => {})
  } finally {
    await fs.unlink(breakPath).catch(() => {})
  }
}
