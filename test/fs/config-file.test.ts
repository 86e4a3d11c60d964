import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
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
import { rejection, rootOrCi } from '../support/helpers.js'
import { withTempSteps } from '../support/fs-steps.js'
import { withRightsFor } from '../../src/fs/acting-user.js'
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
