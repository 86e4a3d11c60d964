// Faults that need real mounts and users: a full tmpfs, a read-only mount, a bind-mounted file,
// a directory the user cannot write, and the default path resolved inside a private mount
// namespace (so the machine's own /root/.docker is never touched). Root only; under CI=true these
// run and fail rather than skip if root is missing.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { rootOrCi, runCli, useSimulator, useTempDir, validJson } from '../support/helpers.js'

const sim = useSimulator()
let dir: string
const mounts: string[] = []
useTempDir('iid-mounts-', (d) => (dir = d))
afterEach(() => {
  for (const m of mounts.splice(0).reverse()) execFileSync('umount', [m])
})

const mount = (...args: string[]): void => {
  execFileSync('mount', args)
  mounts.push(args[args.length - 1]!)
}

const write = (config: string, args: string[] = [], options: Parameters<typeof runCli>[1] = {}) =>
  runCli(['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url, '--timeout', '5', ...args], options)

describe.runIf(rootOrCi)('on real mounts, as root', () => {
  it('a full disk (tmpfs): exit 73, original byte-identical, no temp or lock file left', async () => {
    const fs = join(dir, 'small')
    mkdirSync(fs)
    mount('-t', 'tmpfs', '-o', 'size=16k,mode=0700', 'tmpfs', fs)
    const config = join(fs, 'config.json')
    const original = Buffer.from(JSON.stringify({ auths: {}, pad: 'x'.repeat(9000) }))
    writeFileSync(config, original, { mode: 0o600 })
    const run = await write(config)
    expect(run.code).toBe(73)
    expect(run.stderr).toMatch(/cannot write .*no space left on the device/)
    expect(run.stderr).toMatch(/fix: free space/)
    expect(readFileSync(config).equals(original)).toBe(true)
    expect(readdirSync(fs)).toEqual(['config.json'])
  })

  it('a disk too full for the lock file itself: exit 73, no empty lock left to make the next run wait', async () => {
    const fs = join(dir, 'full')
    mkdirSync(fs)
    mount('-t', 'tmpfs', '-o', 'size=16k,mode=0700', 'tmpfs', fs)
    const config = join(fs, 'config.json')
    const original = Buffer.from('{"auths":{}}')
    writeFileSync(config, original, { mode: 0o600 })
    // Fill every block: creating the lock still works (a free inode), writing its owner does not.
    try {
      writeFileSync(join(fs, 'filler'), Buffer.alloc(64 * 1024))
    } catch {
      // ENOSPC, with the filler as large as the space allowed
    }
    expect(statfsSync(fs).bavail).toBe(0)
    const run = await write(config)
    expect(run.code).toBe(73)
    expect(run.stderr).toMatch(/cannot write .*config\.json\.lock: no space left on the device/)
    expect(readFileSync(config).equals(original)).toBe(true)
    expect(readdirSync(fs).sort()).toEqual(['config.json', 'filler'])

    rmSync(join(fs, 'filler'))
    const next = await write(config, [], { env: { IID_DOCKER_AUTH_LOCK_TIMEOUT: '2' } })
    expect(next.code).toBe(0)
  })

  it('a read-only mount: exit 73 naming it, file byte-identical', async () => {
    const ro = join(dir, 'ro')
    mkdirSync(ro)
    const config = join(ro, 'config.json')
    writeFileSync(config, '{"auths":{}}')
    mount('--bind', ro, ro)
    execFileSync('mount', ['-o', 'remount,bind,ro', ro])
    const run = await write(config)
    expect(run.code).toBe(73)
    expect(run.stderr).toMatch(/the filesystem is read-only/)
    expect(readFileSync(config, 'utf8')).toBe('{"auths":{}}')
  })

  it('a bind-mounted single file: exit 73 (EBUSY) with the fix, nothing left behind', async () => {
    const real = join(dir, 'real.json')
    writeFileSync(real, '{"k":1}')
    const docker = join(dir, 'docker')
    mkdirSync(docker)
    const config = join(docker, 'config.json')
    writeFileSync(config, '')
    mount('--bind', real, config)
    const run = await write(config)
    expect(run.code).toBe(73)
    expect(run.stderr).toMatch(/mount point/)
    expect(run.stderr).toMatch(/fix: bind-mount the directory instead/)
    expect(readFileSync(real, 'utf8')).toBe('{"k":1}')
    expect(readdirSync(docker)).toEqual(['config.json'])
  })

  it('with several config files, one failing does not stop the others; the exit code is the failure', async () => {
    const ro = join(dir, 'ro')
    mkdirSync(ro)
    mount('--bind', ro, ro)
    execFileSync('mount', ['-o', 'remount,bind,ro', ro])
    const good = join(dir, 'good', 'config.json')
    const run = await write(join(ro, 'config.json'), ['-c', good, '--json'])
    expect(run.code).toBe(73)
    expect(JSON.parse(readFileSync(good, 'utf8')).auths['pierone.example.com']).toBeTruthy()
    const report = validJson(run.stdout, 'write')
    expect(report.configs.map((c: { action: string }) => c.action)).toEqual(['failed', 'written'])
    expect(report.exitCode).toBe(73)
  })

  it('a directory the user cannot write: exit 73, permission denied', async () => {
    chmodSync(dir, 0o755)
    const locked = join(dir, 'locked')
    mkdirSync(locked, { mode: 0o755 })
    const config = join(locked, 'config.json')
    writeFileSync(config, '{}', { mode: 0o644 })
    const run = await write(config, [], { prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] })
    expect(run.code).toBe(73)
    expect(run.stderr).toMatch(/permission denied/)
    expect(readFileSync(config, 'utf8')).toBe('{}')
  })

  it('defaults to <passwd home>/.docker/config.json, ignoring $HOME (private mount namespace over /root)', async () => {
    const fakeRoot = join(dir, 'root')
    mkdirSync(fakeRoot, { mode: 0o700 })
    const prefix = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /root && exec "$@"', fakeRoot]
    const run = await runCli(['-r', 'pierone.example.com', '--endpoint', sim.url, '--json'], {
      prefix,
      env: { HOME: '/nonexistent', DOCKER_CONFIG: undefined },
    })
    expect(run.code).toBe(0)
    expect(validJson(run.stdout, 'write').configs[0]).toMatchObject({
      path: '/root/.docker/config.json',
      source: 'passwd home of the effective user',
    })
    const written = join(fakeRoot, '.docker', 'config.json')
    expect(JSON.parse(readFileSync(written, 'utf8')).auths['pierone.example.com']).toBeTruthy()
    expect(statSync(join(fakeRoot, '.docker')).mode & 0o777).toBe(0o700)
    expect(statSync(written).mode & 0o777).toBe(0o600)
  })

  it('honours DOCKER_CONFIG (a directory) before the passwd home', async () => {
    const dockerConfig = join(dir, 'dc')
    const run = await runCli(['-r', 'pierone.example.com', '--endpoint', sim.url], { env: { DOCKER_CONFIG: dockerConfig } })
    expect(run.code).toBe(0)
    expect(existsSync(join(dockerConfig, 'config.json'))).toBe(true)
  })
})
