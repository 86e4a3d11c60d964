// Faults in the environment, on real files and processes: an immutable file, 50 concurrent runs,
// the tool racing a loop of `docker logout`, and a watch on every file the tool creates to prove
// none is ever readable by group or others. (Full disk, read-only and bind mounts, a directory
// without write permission, stale and live locks, and planted temp links are in the regular suite,
// which `npm run test:torture` runs too.)
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { haveOrCi, rootOrCi, runCli, runProgram, useSimulator, useTempDir } from '../support/helpers.js'

const sim = useSimulator()
let dir: string
let config: string
useTempDir('iid-env-', (d) => {
  dir = d
  config = join(d, 'config.json')
})
afterEach(() => spawnQuiet('chattr', ['-i', config]))

function spawnQuiet(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: 'ignore' })
  } catch {
    // best effort
  }
}

const write = (registry: string, extra: string[] = []) =>
  runCli(['-r', registry, '-c', config, '--endpoint', sim.url, '--timeout', '30', ...extra], { timeoutMs: 120_000 })

describe('environment faults', () => {
  it.runIf(rootOrCi)('an immutable file (chattr +i): exit 73 naming it, byte-identical, nothing left behind', async () => {
    writeFileSync(config, '{"auths":{}}', { mode: 0o600 })
    execFileSync('chattr', ['+i', config])
    const run = await write('pierone.example.com')
    expect(run.code).toBe(73)
    expect(run.stderr).toMatch(/operation not permitted \(an immutable or append-only file or directory\?\)/)
    expect(run.stderr).toMatch(/fix: check `lsattr -d` on the file and its directory/)
    expect(readFileSync(config, 'utf8')).toBe('{"auths":{}}')
    expect(readdirSync(dir)).toEqual(['config.json'])
  })

  it('50 concurrent runs with distinct registries: all 50 entries', async () => {
    writeFileSync(config, '{"auths":{"keep.example.com":{"auth":"dTpw"}},"x":[1,2,3]}', { mode: 0o600 })
    const runs = await Promise.all(Array.from({ length: 50 }, (_, i) => write(`r${i}.example.com`)))
    expect(runs.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([])
    expect(runs.map((r) => r.code)).toEqual(Array(50).fill(0))
    const after = JSON.parse(readFileSync(config, 'utf8'))
    expect(Object.keys(after.auths).sort()).toEqual(
      ['keep.example.com', ...Array.from({ length: 50 }, (_, i) => `r${i}.example.com`)].sort(),
    )
    expect(after.x).toEqual([1, 2, 3])
    expect(readdirSync(dir)).toEqual(['config.json'])
  }, 300_000)

  it.runIf(haveOrCi('docker'))(
    'racing a loop of docker logout: the file always parses, every run succeeds, a last run restores every entry',
    async () => {
      writeFileSync(config, '{"auths":{}}', { mode: 0o600 })
      let stop = false
      let logouts = 0
      let samples = 0
      const invalid: string[] = []
      const dockerLoop = (async () => {
        while (!stop) {
          const r = await runProgram('docker', ['--config', dir, 'logout', 'r0.example.com'], {
            env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' },
          })
          expect(r.status, r.stderr).toBe(0)
          logouts++
        }
      })()
      const sampler = (async () => {
        while (!stop) {
          const text = readFileSync(config, 'utf8')
          try {
            JSON.parse(text)
          } catch {
            invalid.push(text.slice(0, 80))
          }
          samples++
          await new Promise((r) => setTimeout(r, 2))
        }
      })()
      const registries = Array.from({ length: 30 }, (_, i) => `r${i}.example.com`)
      for (const registry of registries) expect((await write(registry)).code).toBe(0)
      stop = true
      await Promise.all([dockerLoop, sampler])
      expect(invalid).toEqual([])
      expect(logouts).toBeGreaterThan(5)
      // Docker's unlocked read-modify-write can drop entries it never meant to touch; our next run puts them back.
      expect((await write(registries.join(','))).code).toBe(0)
      expect(Object.keys(JSON.parse(readFileSync(config, 'utf8')).auths).sort()).toEqual([...registries].sort())
      console.log(`docker race: ${logouts} docker logouts, ${samples} reads of the file, all valid JSON`)
    },
    300_000,
  )

  it('no file the tool creates is ever readable by group or others, even mid-write', async () => {
    // A 0600 file with many entries so that writes take long enough to be watched.
    const auths = Object.fromEntries(
      Array.from({ length: 20_000 }, (_, i) => [`r${i}.example.com`, { auth: Buffer.from(`u${i}:p`).toString('base64') }]),
    )
    writeFileSync(config, JSON.stringify({ auths }), { mode: 0o600 })
    const fresh = join(dir, 'fresh')
    mkdirSync(fresh)
    const seen = new Map<string, number>()
    let stop = false
    const watcher = (async () => {
      while (!stop) {
        for (const d of [dir, fresh]) {
          for (const name of readdirSync(d)) {
            const stat = statSync(join(d, name), { throwIfNoEntry: false })
            if (stat?.isFile()) seen.set(name, (seen.get(name) ?? 0) | (stat.mode & 0o077))
          }
        }
        await new Promise((r) => setImmediate(r))
      }
    })()
    for (let i = 0; i < 10; i++) {
      expect((await write(`new${i}.example.com`)).code).toBe(0)
      expect((await runCli(['-r', `new${i}.example.com`, '-c', join(fresh, `config-${i}.json`), '--endpoint', sim.url])).code).toBe(0)
    }
    const root = join(dir, 'image')
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true })
    if (haveOrCi('systemctl')) expect((await runCli(['install', '--root', root, '-r', 'pierone.example.com', '--no-enable'])).code).toBe(0)
    stop = true
    await watcher
    // The environment file is the one exception, on purpose: settings only (no secret), 0644 so that a
    // docker user's credential helper can read which registries to answer for.
    if (haveOrCi('systemctl')) {
      expect(statSync(join(root, 'etc/default/iid-docker-auth')).mode & 0o777).toBe(0o644)
      expect(readFileSync(join(root, 'etc/default/iid-docker-auth'), 'utf8')).not.toMatch(/auth"|pkcs7|MII/)
    }
    const kinds = { temp: 0, lock: 0, config: 0 }
    for (const name of seen.keys()) {
      if (name.endsWith('.tmp')) kinds.temp++
      else if (name.endsWith('.lock')) kinds.lock++
      else kinds.config++
    }
    console.log(`permission watch: saw ${kinds.temp} temp, ${kinds.lock} lock and ${kinds.config} config files`)
    expect(kinds.temp).toBeGreaterThan(0)
    expect(kinds.lock).toBeGreaterThan(0)
    expect([...seen].filter(([, bits]) => bits !== 0)).toEqual([])
  }, 300_000)
})
