// The lock beside config.json (src/fs/lock.ts): held, waited for, broken when its holder is gone.
import { execFileSync, spawn } from 'node:child_process'
import {
  constants as fsConstants,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { FileSystem } from '../../src/fs/config-file.js'

import { rejection, spawnZombie } from '../support/helpers.js'
import { acquireLock, lockPathFor, ownerlessGraceMs } from '../../src/fs/lock.js'
import { currentOwner, isStale, processStartTime } from '../../src/fs/lock-owner.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iid-config-file-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('lock', () => {
  it('reads a lock of any size in a bounded buffer: a huge one names no owner and costs no memory', async () => {
    const target = join(dir, 'config.json')
    // Sparse: the size a hostile user could give it, without the disk.
    execFileSync('truncate', ['-s', '1G', lockPathFor(target)])
    const before = process.memoryUsage().rss
    const release = await acquireLock(target, { timeoutMs: 10_000 })
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024)
    await release()
  })

  it('is exclusive, 0600, and released', async () => {
    const target = join(dir, 'config.json')
    const release = await acquireLock(target, { timeoutMs: 100 })
    expect(statSync(lockPathFor(target)).mode & 0o777).toBe(0o600)
    const error = await rejection(acquireLock(target, { timeoutMs: 150 }))
    expect(error.exitCode).toBe(73)
    expect(error.message).toContain(`held by process ${process.pid}`)
    await release()
    expect(existsSync(lockPathFor(target))).toBe(false)
  })

  it('breaks a lock left by a dead process', async () => {
    const target = join(dir, 'config.json')
    const child = spawn(process.execPath, ['-e', '0'])
    await new Promise((r) => child.on('exit', r))
    writeFileSync(lockPathFor(target), JSON.stringify({ ...currentOwner(), pid: child.pid }))
    const release = await acquireLock(target, { timeoutMs: 100 })
    await release()
    expect(readdirSync(dir)).toEqual([])
  })

  it('breaks a lock from an earlier boot, or from a reused pid', () => {
    expect(isStale({ ...currentOwner(), bootId: 'another-boot' })).toBe(true)
    expect(isStale({ ...currentOwner(), startTime: '1' })).toBe(true)
    expect(isStale(currentOwner())).toBe(false)
  })

  it('breaks a lock that names no owner once this run has seen it unchanged for a moment, whatever its mtime says', async () => {
    const target = join(dir, 'config.json')
    writeFileSync(lockPathFor(target), '')
    // A planted or clock-stepped mtime, an hour ahead: file times are wall-clock time and decide nothing.
    const future = new Date(Date.now() + 3_600_000)
    await fsp.utimes(lockPathFor(target), future, future)
    let t = 0
    const clock = { now: () => t, sleep: async (ms: number) => void (t += ms) }
    expect((await rejection(acquireLock(target, { timeoutMs: ownerlessGraceMs / 2, ...clock }))).message).toContain(
      'held by a run that has not written its owner',
    )
    await (await acquireLock(target, { timeoutMs: ownerlessGraceMs * 2, ...clock }))()
    expect(t).toBeGreaterThanOrEqual(ownerlessGraceMs)
    expect(readdirSync(dir)).toEqual([])
  })

  it('treats a zombie holder as gone: it answers kill(0) but holds nothing', async () => {
    const target = join(dir, 'config.json')
    const zombie = await spawnZombie()
    try {
      const owner = { ...currentOwner(), pid: zombie.pid, startTime: processStartTime(zombie.pid)! }
      expect(isStale(owner)).toBe(true)
      writeFileSync(lockPathFor(target), JSON.stringify(owner))
      await (await acquireLock(target, { timeoutMs: 100 }))()
      expect(readdirSync(dir)).toEqual([])
    } finally {
      zombie.kill()
    }
  })

  it('breaks a break lock left by a killed breaker at once: it names its owner too', async () => {
    const target = join(dir, 'config.json')
    const child = spawn(process.execPath, ['-e', '0'])
    await new Promise((r) => child.on('exit', r))
    const dead = JSON.stringify({ ...currentOwner(), pid: child.pid })
    writeFileSync(lockPathFor(target), dead)
    writeFileSync(`${lockPathFor(target)}.break`, dead)
    await (await acquireLock(target, { timeoutMs: 500 }))()
    expect(readdirSync(dir)).toEqual([])
  })

  it('waits for a live holder and then takes the lock', async () => {
    const target = join(dir, 'config.json')
    const release = await acquireLock(target, { timeoutMs: 100 })
    const waited: number[] = []
    const second = acquireLock(target, { timeoutMs: 5000, onWait: (h) => waited.push(h.pid) })
    setTimeout(() => void release(), 200)
    await (await second)()
    expect(waited).toEqual([process.pid])
  })

  /** fs/promises with one injected fault: `when` picks the call, by name and path. */
  const faulty = (when: (op: string, path: string, flags?: number) => boolean, code: string): FileSystem => {
    const fail = () => Object.assign(new Error(`injected ${code}`), { code })
    return {
      ...fsp,
      open: async (...args: Parameters<typeof fsp.open>) => {
        const path = String(args[0])
        if (when('open', path, args[1] as number)) throw fail()
        const handle = await fsp.open(...args)
        return new Proxy(handle, {
          get(target, prop, receiver) {
            // A failing close still closes, as close(2) does.
            if (typeof prop === 'string' && when(prop, path))
              return async () => (prop === 'close' && (await target.close()), Promise.reject(fail()))
            const value = Reflect.get(target, prop, receiver)
            return typeof value === 'function' ? value.bind(target) : value
          },
        })
      },
    }
  }

  /** Settles the promise or fails the test after `ms`, so that a wait that never ends shows as a failure. */
  const within = <T>(promise: Promise<T>, ms: number): Promise<T> =>
    Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms))])

  it('ends by its deadline when the lock cannot be read', async () => {
    const target = join(dir, 'config.json')
    writeFileSync(lockPathFor(target), JSON.stringify(currentOwner()))
    const fs = faulty(
      (op, path, flags) => op === 'open' && path.endsWith('.lock') && flags !== undefined && (flags & fsConstants.O_CREAT) === 0,
      'EACCES',
    )
    const error = await rejection(within(acquireLock(target, { timeoutMs: 200, fs }), 5000))
    expect(error.exitCode).toBe(73)
    expect(error.message).toContain('is held by another process')
  })

  it.each([
    ['a directory', (p: string) => mkdirSync(p)],
    ['a FIFO', (p: string) => execFileSync('mkfifo', [p])],
  ])('reports %s at the lock path at once, with exit 73 and the fix', async (what, make) => {
    const target = join(dir, 'config.json')
    make(lockPathFor(target))
    // fs/promises rather than the synchronous default, so that a regression fails instead of blocking the test.
    const error = await rejection(within(acquireLock(target, { timeoutMs: 60_000, fs: { ...fsp } }), 5000))
    expect(error.exitCode).toBe(73)
    expect(error.message).toBe(`${lockPathFor(target)} is ${what}, not a lock file; the file was not changed`)
    expect(error.hint).toMatch(/^remove it/)
  })

  it.each(['writeFile', 'close'])('takes the lock away again when its %s fails (a full disk): no empty lock is left', async (op) => {
    const target = join(dir, 'config.json')
    const fs = faulty((o, path) => o === op && path.endsWith('.lock'), 'ENOSPC')
    const error = await rejection(acquireLock(target, { timeoutMs: 100, fs }))
    expect(error.exitCode).toBe(73)
    expect(error.message).toMatch(/config\.json\.lock: no space left on the device/)
    expect(readdirSync(dir)).toEqual([])
  })

  it('does not leave the lock or a stale copy behind', async () => {
    const target = join(dir, 'config.json')
    writeFileSync(lockPathFor(target), JSON.stringify({ ...currentOwner(), bootId: 'old' }))
    await (await acquireLock(target, { timeoutMs: 100 }))()
    expect(readdirSync(dir)).toEqual([])
    expect(lstatSync(dir).isDirectory()).toBe(true)
  })
  // An append-only or immutable directory: a lock that cannot be removed must stop the run at once
  // with the cause, never make it (or the next one) wait out the timeout blaming another process.
  const unremovable = (name: string): FileSystem => ({
    ...fsp,
    unlink: async (path) => {
      if (String(path).endsWith(name)) throw Object.assign(new Error('injected EPERM'), { code: 'EPERM' })
      return fsp.unlink(path)
    },
  })

  it('says so when the lock cannot be removed on release', async () => {
    const target = join(dir, 'config.json')
    const release = await acquireLock(target, { timeoutMs: 100, fs: unremovable('.lock') })
    const error = await rejection(release())
    expect(error.exitCode).toBe(73)
    expect(error.message).toBe(
      `cannot remove ${lockPathFor(target)}: operation not permitted: the directory may be append-only or immutable; it stays behind, and runs stop on it until it is removed`,
    )
    expect(error.hint).toContain(`lsattr -d ${dir}`)
  })

  it.each(['.lock', '.lock.break'])(
    'fails at once, naming the cause, when a stale lock cannot be broken (%s cannot be removed)',
    async (name) => {
      const target = join(dir, 'config.json')
      writeFileSync(lockPathFor(target), JSON.stringify({ ...currentOwner(), bootId: 'old' }))
      const started = performance.now()
      const error = await rejection(acquireLock(target, { timeoutMs: 60_000, fs: unremovable(name) }))
      expect(performance.now() - started).toBeLessThan(30_000)
      expect(error.exitCode).toBe(73)
      expect(error.message).toMatch(
        /^cannot (break the stale lock|remove) .*: operation not permitted: the directory may be append-only or immutable; .*stay/,
      )
      expect(error.message).not.toContain('another process')
      if (name === '.lock') {
        // The next run fails the same way at once.
        const again = await rejection(acquireLock(target, { timeoutMs: 60_000, fs: unremovable(name) }))
        expect(again.message).toMatch(/operation not permitted: the directory may be append-only/)
        expect(performance.now() - started).toBeLessThan(30_000)
      }
    },
  )
})
