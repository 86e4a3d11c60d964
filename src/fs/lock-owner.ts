// Who holds a lock, and whether they are certainly gone: pid, process start time and boot id, read
// from /proc, so that a dead or zombie holder, or a reused pid of an earlier boot, is told apart.

import { readFileSync } from 'node:fs'
import { errnoOf } from '../errors.js'

export interface LockOwner {
  readonly pid: number
  readonly startTime: string
  readonly bootId: string
}

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

/** Field 3 of /proc/<pid>/stat: R, S, D, Z (zombie), X (dead), ... */
function processState(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`)
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
}

/** Whether the recorded owner is certainly gone (dead, a zombie, or a different process with a reused pid). */
export function isStale(owner: LockOwner): boolean {
  // A sandbox (ProcSubset=pid) hides the boot id; compare only when both sides could read it.
  const current = bootId()
  if (owner.bootId !== 'unknown' && current !== 'unknown' && owner.bootId !== current) return true
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if (errnoOf(error) === 'ESRCH') return true
  }
  // A zombie still answers kill(0) but holds nothing: with no init to reap it (a container), it stays.
  const state = processState(owner.pid)
  if (state === 'Z' || state === 'X') return true
  const start = processStartTime(owner.pid)
  return start !== undefined && start !== owner.startTime
}
