// A lock file beside config.json so that two runs of this tool never lose each other's entries.
// It records pid, process start time and boot id, so a lock left by a dead process, or by a process
// of an earlier boot whose pid was reused, is recognised as stale and broken.

import { constants, readFileSync } from 'node:fs'
import { CliError, ExitCode, errnoOf } from './errors.js'
import { type FileSystem, cannotWrite, nodeFileSystem, uniqueSuffix } from './config-file.js'

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
  const fs = options.fs ?? nodeFileSystem
  const now = options.now ?? Date.now
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const lockPath = lockPathFor(target)
  const me = JSON.stringify(currentOwner())
  const deadline = now() + options.timeoutMs
  let waitedFor: LockOwner | undefined

  for (;;) {
    try {
      const handle = await fs.open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
      try {
        await handle.writeFile(me)
      } finally {
        await handle.close()
      }
      return async () => {
        await fs.unlink(lockPath).catch(() => {})
      }
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw cannotWrite(lockPath, error)
    }

    const text = await fs.readFile(lockPath, 'utf8').catch(() => undefined)
    if (text === undefined) continue // released between our open and our read
    const holder = parseOwner(text)
    if (holder === undefined ? await olderThan(fs, lockPath, unreadableLockGraceMs, now) : isStale(holder)) {
      await breakStaleLock(fs, lockPath, text)
      continue
    }
    if (holder !== undefined && waitedFor === undefined) {
      waitedFor = holder
      options.onWait?.(holder)
    }
    if (now() >= deadline) {
      throw new CliError(
        ExitCode.cannotWrite,
        `${lockPath} is held by ${holder === undefined ? 'another process' : `process ${holder.pid}`}, still running after ${Math.round(options.timeoutMs / 1000)} s; the file was not changed`,
        { hint: 'wait for that run of iid-docker-auth to finish; if no such process exists, remove the lock file' },
      )
    }
    await sleep(20 + Math.floor(Math.random() * 30))
  }
}

async function olderThan(fs: FileSystem, path: string, ms: number, now: () => number): Promise<boolean> {
  try {
    return now() - (await fs.stat(path)).mtimeMs > ms
  } catch {
    return false
  }
}

/**
 * Moves the stale lock aside and deletes it. If another process replaced it with a live lock in
 * the meantime, what we moved is theirs: put it back (link fails if yet another run holds it now).
 */
async function breakStaleLock(fs: FileSystem, lockPath: string, staleText: string): Promise<void> {
  const aside = `${lockPath}.stale.${uniqueSuffix()}`
  try {
    await fs.rename(lockPath, aside)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return
    throw cannotWrite(lockPath, error)
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => staleText)
  if (moved !== staleText) await fs.link(aside, lockPath).catch(() => {})
  await fs.unlink(aside).catch(() => {})
}
