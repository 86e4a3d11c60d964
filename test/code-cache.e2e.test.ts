// The boot path's start-up discipline, on the built CLI: the V8 code cache in $CACHE_DIRECTORY
// (src/code-cache.ts) and the Node modules a `write` wakes.
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cacheDirectory, cacheHeader, cacheKey, cachePayload } from '../src/code-cache.js'
import { buildAuth, defaultUsername } from '../src/identity.js'
import { knownSecrets } from '../src/sim/imds-simulator.js'
import { cacheFileName } from '../src/systemd-names.js'
import { version as packageVersion } from '../src/version.js'
import { cliPath, repoRoot, rootOrCi, runCli, runProgram, useSimulator, useTempDir } from './helpers.js'

const sim = useSimulator()
let dir: string
let cacheDir: string
let cacheFile: string
useTempDir('iid-cache-', (d) => {
  dir = d
  cacheDir = join(d, 'cache')
  mkdirSync(cacheDir, { mode: 0o755 })
  cacheFile = join(cacheDir, cacheFileName)
})

const write = (env: Record<string, string | undefined> = { CACHE_DIRECTORY: cacheDir }) =>
  runCli(['--registry', 'pierone.example.com', '--config', join(dir, 'docker', 'config.json'), '--endpoint', sim.url, '--timeout', '5', '-q'], { env })

describe('cache file format (pure)', () => {
  const key = cacheKey('abc123', { size: 10n, mtimeNs: 20n, ino: 30n }, { version: 'v20.0.0', arch: 'x64' })

  it('keys on the build, the bundle file and Node', () => {
    expect(key).toBe('abc123 v20.0.0 x64 10 20 30')
    expect(cacheKey('abc123', { size: 10n, mtimeNs: 21n, ino: 30n }, { version: 'v20.0.0', arch: 'x64' })).not.toBe(key)
  })

  it('gives the payload only for the same key and the full length', () => {
    const bytes = Buffer.concat([Buffer.from(cacheHeader(key, 4)), Buffer.from([1, 2, 3, 4])])
    expect([...(cachePayload(bytes, key) ?? [])]).toEqual([1, 2, 3, 4])
    expect(cachePayload(bytes, key.replace('v20', 'v22'))).toBeUndefined()
    expect(cachePayload(bytes.subarray(0, bytes.length - 1), key)).toBeUndefined()
    expect(cachePayload(Buffer.concat([bytes, Buffer.from([5])]), key)).toBeUndefined()
    expect(cachePayload(Buffer.from('no newline'), key)).toBeUndefined()
  })

  it('takes the first absolute entry of $CACHE_DIRECTORY', () => {
    expect(cacheDirectory({ CACHE_DIRECTORY: '/var/cache/a:/var/cache/b' })).toBe('/var/cache/a')
    expect(cacheDirectory({ CACHE_DIRECTORY: 'relative' })).toBeUndefined()
    expect(cacheDirectory({})).toBeUndefined()
  })
})

describe('code cache in $CACHE_DIRECTORY', () => {
  it('is written once after a successful run, 0600, for this Node, and then used as it is', async () => {
    expect((await write()).code).toBe(0)
    const first = statSync(cacheFile)
    expect(first.mode & 0o777).toBe(0o600)
    expect(readFileSync(cacheFile).subarray(0, 200).toString('latin1')).toContain(` ${process.version} ${process.arch} `)
    expect(readdirSync(cacheDir)).toEqual([cacheFileName])
    // Compiled code only: nothing the run handled.
    const cached = readFileSync(cacheFile).toString('latin1')
    for (const secret of [...knownSecrets().filter((x) => x.length >= 16), buildAuth(defaultUsername, sim.pkcs7, false)]) expect(cached.includes(secret)).toBe(false)
    // A hit leaves the file alone (the same inode and mtime).
    const run = await write()
    expect(run.code).toBe(0)
    const second = statSync(cacheFile)
    expect([second.ino, second.mtimeMs]).toEqual([first.ino, first.mtimeMs])
  })

  it('writes nothing without $CACHE_DIRECTORY, and nothing after a failed run', async () => {
    expect((await write({})).code).toBe(0)
    expect(readdirSync(cacheDir)).toEqual([])
    sim.setFaults({ routes: { token: { status: 403 } } })
    expect((await write()).code).toBe(69)
    expect(readdirSync(cacheDir)).toEqual([])
  })

  it.each([
    ['made for another Node', (bytes: Buffer) => Buffer.from(bytes.toString('latin1').replace(process.version, 'v0.0.1'), 'latin1')],
    ['cut short', (bytes: Buffer) => bytes.subarray(0, bytes.length - 1000)],
    ['holding data V8 refuses', (bytes: Buffer) => {
      const copy = Buffer.from(bytes)
      const start = copy.indexOf(0x0a) + 1
      copy.fill(0xff, start, start + 16) // V8's magic number and version hash
      return copy
    }],
    ['empty', () => Buffer.alloc(0)],
  ])('a cache %s is ignored and replaced', async (_, damage) => {
    expect((await write()).code).toBe(0)
    writeFileSync(cacheFile, damage(readFileSync(cacheFile)), { mode: 0o600 })
    const damagedIno = statSync(cacheFile).ino
    expect((await write()).code).toBe(0)
    expect(statSync(cacheFile).ino).not.toBe(damagedIno)
    // The replacement is good: the next run keeps it.
    const replaced = statSync(cacheFile)
    expect((await write()).code).toBe(0)
    expect(statSync(cacheFile).ino).toBe(replaced.ino)
  })

  it.runIf(rootOrCi)('a cache that another user owns, or that others can write, is not trusted', async () => {
    expect((await write()).code).toBe(0)
    chownSync(cacheFile, 1234, 1234)
    let ino = statSync(cacheFile).ino
    expect((await write()).code).toBe(0)
    expect(statSync(cacheFile).ino).not.toBe(ino)
    expect(statSync(cacheFile).uid).toBe(process.geteuid!())
    chmodSync(cacheFile, 0o666)
    ino = statSync(cacheFile).ino
    expect((await write()).code).toBe(0)
    expect(statSync(cacheFile).ino).not.toBe(ino)
    expect(statSync(cacheFile).mode & 0o777).toBe(0o600)
  })

  it('a cache directory that cannot be written changes nothing about the run', async () => {
    const missing = join(dir, 'absent')
    const run = await write({ CACHE_DIRECTORY: missing })
    expect(run.code).toBe(0)
    expect(run.stderr).toBe('')
    expect(existsSync(missing)).toBe(false)
  })

  it('a cache from an older bundle is not used after the bundle is edited in place (same length)', async () => {
    // A copy of the package, so that its bundle can be changed.
    const pkg = join(dir, 'pkg')
    mkdirSync(join(pkg, 'bin'), { recursive: true })
    cpSync(join(repoRoot, 'bin'), join(pkg, 'bin'), { recursive: true })
    cpSync(join(repoRoot, 'dist'), join(pkg, 'dist'), { recursive: true, filter: (f) => !f.includes('/sim') })
    const cli = join(pkg, 'bin', 'iid-docker-auth.cjs')
    const version = async () => {
      const run = await runProgram(process.execPath, [cli, '--version'], { env: { ...process.env, CACHE_DIRECTORY: cacheDir } })
      expect(run.status).toBe(0)
      return run.stdout.trim()
    }
    expect(await version()).toBe(packageVersion)
    expect(existsSync(cacheFile)).toBe(true)
    const core = join(pkg, 'dist', 'iid-docker-auth-core.cjs')
    const text = readFileSync(core, 'utf8')
    const edited = packageVersion.replace(/.$/, (d) => String((Number(d) + 1) % 10))
    writeFileSync(core, text.replace(`"${packageVersion}"`, `"${edited}"`))
    expect(readFileSync(core).length).toBe(Buffer.byteLength(text))
    expect(await version()).toBe(edited)
  })
})

describe('what a write wakes', () => {
  it('loads no TLS, crypto, web streams, fs/promises or readline, and only the admin bundle for other commands', async () => {
    const list = join(dir, 'modules.txt')
    const preload = join(dir, 'record.cjs')
    writeFileSync(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n') + '\\n' + Object.keys(require.cache).join('\\n')))`)
    const run = await runProgram(process.execPath, ['-r', preload, cliPath, '--registry', 'pierone.example.com', '--config', join(dir, 'docker', 'config.json'), '--endpoint', sim.url, '-q'])
    expect(run.status).toBe(0)
    const loaded = readFileSync(list, 'utf8').split('\n')
    expect(loaded).toContain('NativeModule http')
    for (const name of ['NativeModule tls', 'NativeModule https', 'NativeModule crypto', 'NativeModule internal/webstreams/readablestream', 'NativeModule fs/promises', 'NativeModule internal/readline/interface', 'NativeModule child_process']) {
      expect(loaded, name).not.toContain(name)
    }
    expect(loaded.some((f) => f.endsWith('iid-docker-auth-core.cjs'))).toBe(true)
    expect(loaded.some((f) => f.endsWith('iid-docker-auth-admin.cjs'))).toBe(false)
  })
})
