import { execFileSync, spawn } from 'node:child_process'
import {
  constants as fsConstants,
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type FileSystem, readConfigFile, writeAtomic } from '../../src/fs/config-file.js'
import { targetOf, walkPath } from '../../src/fs/resolve-path.js'

// The target a path resolves to (resolve-path.ts), for the tests of symlinked config files.
const resolveTarget = (path: string): string => targetOf(path, walkPath(path))
import { rejection, rootOrCi, spawnZombie } from '../support/helpers.js'
import { withTempSteps } from '../support/fs-steps.js'
import { withRightsFor } from '../../src/fs/acting-user.js'
import { acquireLock, lockPathFor, ownerlessGraceMs } from '../../src/fs/lock.js'
import { currentOwner, isStale, processStartTime } from '../../src/fs/lock-owner.js'
import { updateConfigFile } from '../../src/fs/update-config-file.js'
import { planMerge } from '../../src/config/merge.js'
import type { Logger } from '../../src/log.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iid-config-file-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const always = async () => true

describe('writeAtomic', () => {
  it('creates a new file 0600 with the content', async () => {
    const target = join(dir, 'config.json')
    expect(await writeAtomic(target, '{}\n', { previous: undefined, stillCurrent: always })).toBe(true)
    expect(readFileSync(target, 'utf8')).toBe('{}\n')
    expect(statSync(target).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir)).toEqual(['config.json'])
  })

  it.each([0o600, 0o640, 0o644, 0o400])('keeps an existing mode %o and never widens it', async (mode) => {
    const target = join(dir, 'config.json')
    writeFileSync(target, 'old', { mode })
    const { identity } = await readConfigFile(target, 1 << 20)
    await writeAtomic(target, 'new', { previous: identity, stillCurrent: always })
    expect(statSync(target).mode & 0o777).toBe(mode)
  })

  it.runIf(rootOrCi)('keeps an existing owner, and gives a new file the owner of its directory', async () => {
    const target = join(dir, 'config.json')
    writeFileSync(target, 'old')
    chownSync(target, 1234, 2345)
    const { identity } = await readConfigFile(target, 1 << 20)
    await writeAtomic(target, 'new', { previous: identity, stillCurrent: always })
    expect([statSync(target).uid, statSync(target).gid]).toEqual([1234, 2345])

    // A new file is created with the rights of its directory's owner, so it is theirs; with no passwd
    // entry for that uid, the group is the kernel's overflow group, never the directory's.
    chmodSync(dir, 0o755)
    const userDir = join(dir, 'home-of-1234')
    mkdirSync(userDir)
    chownSync(userDir, 1234, 1234)
    await withRightsFor(join(userDir, 'config.json'), () =>
      writeAtomic(join(userDir, 'config.json'), 'new', { previous: undefined, stillCurrent: always }),
    )
    expect([statSync(join(userDir, 'config.json')).uid, statSync(join(userDir, 'config.json')).gid]).toEqual([
      1234,
      Number(readFileSync('/proc/sys/kernel/overflowgid', 'utf8')),
    ])
    expect(process.geteuid?.()).toBe(0)
  })

  it('never has a temp file readable by others, from the first byte', async () => {
    const target = join(dir, 'config.json')
    const modes: number[] = []
    const record = (temp: string): void => void modes.push(statSync(temp).mode & 0o777)
    await writeAtomic(target, 'x'.repeat(100_000), {
      previous: undefined,
      stillCurrent: always,
      fs: withTempSteps({ created: record, written: record }),
    })
    expect(modes).toEqual([0o600, 0o600])
  })

  it('abandons the write when the file changed underneath (stillCurrent false)', async () => {
    const target = join(dir, 'config.json')
    writeFileSync(target, 'theirs')
    expect(await writeAtomic(target, 'ours', { previous: undefined, stillCurrent: async () => false })).toBe(false)
    expect(readFileSync(target, 'utf8')).toBe('theirs')
    expect(readdirSync(dir)).toEqual(['config.json'])
  })

  /** A real filesystem whose chosen operation fails, as write-file-atomic's tests do. */
  const failing = (op: 'open' | 'write' | 'sync' | 'rename' | 'chmod', code: string): FileSystem => {
    const fail = () => Object.assign(new Error(`injected ${code}`), { code })
    return {
      ...fsp,
      rename: async (...args: Parameters<typeof fsp.rename>) => (op === 'rename' ? Promise.reject(fail()) : fsp.rename(...args)),
      open: async (...args: Parameters<typeof fsp.open>) => {
        if (op === 'open') throw fail()
        const handle = await fsp.open(...args)
        return new Proxy(handle, {
          get(target, prop, receiver) {
            if ((op === 'write' && prop === 'writeFile') || (op === 'sync' && prop === 'sync') || (op === 'chmod' && prop === 'chmod'))
              return async () => Promise.reject(fail())
            const value = Reflect.get(target, prop, receiver)
            return typeof value === 'function' ? value.bind(target) : value
          },
        })
      },
    }
  }

  it.each([
    ['open', 'EACCES', /permission denied/],
    ['write', 'ENOSPC', /no space left/],
    ['write', 'EIO', /I\/O error/],
    ['sync', 'EIO', /I\/O error/],
    ['chmod', 'EPERM', /not permitted/],
    ['rename', 'EBUSY', /mount point/],
    ['rename', 'EXDEV', /different filesystems/],
    ['rename', 'EROFS', /read-only/],
  ] as const)('on %s failing with %s: exit 73, original byte-identical, no temp file', async (op, code, message) => {
    const target = join(dir, 'config.json')
    const original = Buffer.from('{"auths":{"keep":{"auth":"dTpw"}}}')
    writeFileSync(target, original, { mode: 0o600 })
    const { identity } = await readConfigFile(target, 1 << 20)
    const error = await rejection(writeAtomic(target, 'new', { previous: identity, stillCurrent: always, fs: failing(op, code) }))
    expect(error.exitCode).toBe(73)
    expect(error.message).toMatch(message)
    expect(error.message).toMatch(/the file was not changed/)
    expect(error.hint).toBeTruthy()
    expect(readFileSync(target).equals(original)).toBe(true)
    expect(readdirSync(dir)).toEqual(['config.json'])
  })

  /** fs/promises whose fsync of the directory `failDir` fails with EIO. */
  const failingDirectorySync = (failDir: string): FileSystem => ({
    ...fsp,
    open: async (...args: Parameters<typeof fsp.open>) => {
      const handle = await fsp.open(...args)
      if (String(args[0]) !== failDir) return handle
      return new Proxy(handle, {
        get(target, prop, receiver) {
          if (prop === 'sync') return async () => Promise.reject(Object.assign(new Error('injected EIO'), { code: 'EIO' }))
          const value = Reflect.get(target, prop, receiver)
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    },
  })
  const syncWarning = (d: string) =>
    `the new content is in place, but syncing ${d} failed: an I/O error occurred (EIO); a power loss now may bring back the old file`

  it('reports success with a warning when only the directory fsync after the rename fails', async () => {
    const target = join(dir, 'config.json')
    writeFileSync(target, 'old')
    const warnings: string[] = []
    const { identity } = await readConfigFile(target, 1 << 20)
    const written = await writeAtomic(target, 'new', {
      previous: identity,
      stillCurrent: always,
      fs: failingDirectorySync(dir),
      onWarning: (w) => warnings.push(w),
    })
    expect(written).toBe(true)
    expect(readFileSync(target, 'utf8')).toBe('new')
    expect(warnings).toEqual([syncWarning(dir)])
    expect(readdirSync(dir)).toEqual(['config.json'])
  })

  it('and a config update reports that file as written, with the warning', async () => {
    const target = join(dir, 'config.json')
    writeFileSync(target, '{}')
    const log: Logger = { error: () => {}, fix: () => {}, warn: () => {}, info: () => {}, debug: () => {} }
    const plan = (doc: Parameters<typeof planMerge>[0]) =>
      planMerge(doc, [{ key: 'r.example.com', auth: 'dTpw' }], 'instance-identity-document')
    const outcome = await updateConfigFile({ path: target, source: '--config' }, target, plan, {
      dryRun: false,
      log,
      lockTimeoutMs: 1000,
      fs: failingDirectorySync(dir),
    })
    expect(outcome).toMatchObject({ action: 'written', error: undefined, warnings: [syncWarning(dir)] })
    expect(JSON.parse(readFileSync(target, 'utf8')).auths['r.example.com']).toEqual({ auth: 'dTpw' })
  })

  it('does not follow a symlink planted at the temp name, even in a race', async () => {
    const target = join(dir, 'config.json')
    const victim = join(dir, 'victim')
    writeFileSync(victim, 'untouched')
    writeFileSync(target, 'original')
    // An attacker who wins the race plants a link at the exact temp name just before it is opened.
    const racing: FileSystem = {
      ...fsp,
      open: async (...args: Parameters<typeof fsp.open>) => {
        const path = String(args[0])
        if (path.endsWith('.tmp')) symlinkSync(victim, path)
        return fsp.open(...args)
      },
    }
    const { identity } = await readConfigFile(target, 1 << 20)
    const error = await rejection(writeAtomic(target, 'attacker-controlled?', { previous: identity, stillCurrent: always, fs: racing }))
    expect(error.exitCode).toBe(73)
    expect(readFileSync(victim, 'utf8')).toBe('untouched')
    expect(readFileSync(target, 'utf8')).toBe('original')
  })
})

describe('walkPath + targetOf, and readConfigFile', () => {
  it('follows relative and dangling symlinks to the real target', async () => {
    mkdirSync(join(dir, 'real'))
    writeFileSync(join(dir, 'real', 'c.json'), '{}')
    symlinkSync('real/c.json', join(dir, 'link.json'))
    symlinkSync('link.json', join(dir, 'link2.json'))
    symlinkSync('nowhere/c.json', join(dir, 'dangling.json'))
    expect(resolveTarget(join(dir, 'link2.json'))).toBe(join(dir, 'real', 'c.json'))
    expect(resolveTarget(join(dir, 'dangling.json'))).toBe(join(dir, 'nowhere', 'c.json'))
    expect(resolveTarget(join(dir, 'absent.json'))).toBe(join(dir, 'absent.json'))
  })

  it('refuses a symlink loop with exit 78', async () => {
    symlinkSync('b', join(dir, 'a'))
    symlinkSync('a', join(dir, 'b'))
    expect(() => resolveTarget(join(dir, 'a'))).toThrow(expect.objectContaining({ exitCode: 78 }))
  })

  it('reads a missing file as empty', async () => {
    expect(await readConfigFile(join(dir, 'absent'), 100)).toEqual({ bytes: new Uint8Array(0), identity: undefined })
  })

  it.each([
    ['a directory', (p: string) => mkdirSync(p)],
    ['a FIFO', (p: string) => execFileSync('mkfifo', [p])],
  ])('refuses %s with exit 78 without blocking', async (what, make) => {
    const p = join(dir, 'config.json')
    make(p)
    const error = await rejection(readConfigFile(p, 100))
    expect(error.exitCode).toBe(78)
    expect(error.message).toContain(`is ${what}, not a regular file`)
  })

  it('refuses a device with exit 78', async () => {
    const error = await rejection(readConfigFile('/dev/null', 100))
    expect(error.exitCode).toBe(78)
    expect(error.message).toContain('is a device')
  })

  it('refuses a file over the size cap with exit 78', async () => {
    const p = join(dir, 'config.json')
    writeFileSync(p, 'x'.repeat(101))
    expect((await rejection(readConfigFile(p, 100))).message).toMatch(/larger than/)
  })
})

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

describe('walkPath + targetOf', () => {
  let base: string
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'iid-resolve-'))
  })
  afterEach(() => rmSync(base, { recursive: true, force: true }))

  it('follows a `..` in a link from where the link really is, as the kernel does', async () => {
    mkdirSync(join(base, 'real', 'sub'), { recursive: true })
    symlinkSync(join(base, 'real', 'sub'), join(base, 'd'))
    symlinkSync('../config.json', join(base, 'real', 'sub', 'config.json'))
    writeFileSync(join(base, 'real', 'config.json'), '{}')
    expect(resolveTarget(join(base, 'd', 'config.json'))).toBe(join(base, 'real', 'config.json'))
  })
})
