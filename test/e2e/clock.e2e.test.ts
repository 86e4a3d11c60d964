// The built CLI while the wall clock steps, as chrony or systemd-timesyncd step it at boot, exactly
// while the unit waits: libfaketime moves the wall clock of the CLI's process only, and leaves its
// monotonic clock alone as a real step does. Also the lock judgements that must not rest on the
// wall clock (file times), a zombie holder, and a directory where the lock cannot be removed.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { currentOwner, processStartTime } from '../../src/fs/lock-owner.js'
import { haveOrCi, rootOrCi, runCli, spawnZombie, useSimulator, useTempDir } from '../support/helpers.js'

/** libfaketime's multi-threaded build (Node has threads), wherever Debian put it for this architecture. */
function findFaketime(): string | undefined {
  const dirs = ['/usr/lib', ...readdirSync('/usr/lib').map((d) => join('/usr/lib', d))]
  return dirs.map((d) => join(d, 'faketime', 'libfaketimeMT.so.1')).find((p) => existsSync(p))
}
const faketime = findFaketime()
const haveFaketime = faketime !== undefined || process.env['CI'] === 'true'

const sim = useSimulator()
let dir: string
let clockFile: string
useTempDir('iid-clock-', (d) => {
  dir = d
  clockFile = join(d, 'wall-clock-offset')
  writeFileSync(clockFile, '+0')
})

/** The CLI with a wall clock that the test steps by rewriting `clockFile` (read on every call). */
const steppedEnv = (): Record<string, string> => {
  if (faketime === undefined) throw new Error('libfaketime is missing: apt-get install faketime (scripts/test-prerequisites.sh)')
  return { LD_PRELOAD: faketime, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' }
}

/** Steps the CLI's wall clock once, the first time its stderr matches `when`. */
const stepWhen = (when: RegExp, offset: string) => {
  let output = ''
  let stepped = false
  return (text: string): void => {
    output += text
    if (stepped || !when.test(output)) return
    stepped = true
    writeFileSync(clockFile, offset)
  }
}

const hour = 3_600_000
const steps = [
  ['forward', '+3600'],
  ['back', '-3600'],
] as const

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe.runIf(haveFaketime)('the IMDS deadline under a stepped wall clock', () => {
  beforeAll(() => {
    // The step must reach the CLI: a libfaketime that does not work here would prove nothing.
    const shown = execFileSync(process.execPath, ['-e', 'console.log(Date.now())'], {
      env: { ...process.env, LD_PRELOAD: steppedEnv()['LD_PRELOAD'], FAKETIME: '+1d' },
    })
    expect(Number(shown) - Date.now()).toBeGreaterThan(hour)
  })

  const timeout = 7
  it.each([
    [...steps[0], 'nothing listens'],
    [...steps[1], 'IMDS answers 503'],
  ])('clock stepped %s mid-wait (%s, %s): exit 69 at the real --timeout, with true elapsed figures', async (_, offset, fault) => {
    let endpoint = sim.url
    if (fault === 'nothing listens') endpoint = `http://127.0.0.1:${await closedPort()}`
    else sim.setFaults({ routes: { token: { status: 503 } } })
    const run = await runCli(
      ['-r', 'pierone.example.com', '-c', join(dir, 'config.json'), '--endpoint', endpoint, '--timeout', String(timeout), '--verbose'],
      {
        env: steppedEnv(),
        onStderr: stepWhen(/IMDS attempt 1 failed/, offset),
        timeoutMs: 40_000,
      },
    )
    expect(run.code, run.stderr).toBe(69)
    expect(run.stderr).toContain(`did not give the identity within ${timeout} s`)
    // Ended by the real deadline: neither at the step nor an hour later.
    expect(run.ms).toBeGreaterThan((timeout - 2) * 1000)
    expect(run.ms).toBeLessThan((timeout + 10) * 1000)
    // Progress says how long it really waited.
    const figures = [...run.stderr.matchAll(/\(([0-9.]+) s of 7 s\)/g)].map((m) => Number(m[1]))
    expect(figures.length, run.stderr).toBeGreaterThan(0)
    for (const figure of figures) expect(figure).toBeLessThanOrEqual(timeout)
    expect(readdirSync(dir).sort()).toEqual(['wall-clock-offset'])
  })
})

describe('the lock', () => {
  let config: string
  let holder: { kill(): void } | undefined
  afterEach(() => holder?.kill())
  const seed = (): void => {
    config = join(dir, 'docker', 'config.json')
    mkdirSync(join(dir, 'docker'), { mode: 0o700 })
    writeFileSync(config, '{}', { mode: 0o600 })
  }
  const write = (env: Record<string, string>, onStderr?: (text: string) => void) =>
    runCli(['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url, '--timeout', '5'], {
      env,
      timeoutMs: 40_000,
      ...(onStderr ? { onStderr } : {}),
    })
  const lockOf = (pid: number): string => JSON.stringify({ ...currentOwner(), pid, startTime: processStartTime(pid)! })

  it.runIf(haveFaketime).each(steps)(
    'held by a live process, clock stepped %s mid-wait: waits its real timeout, then 73',
    async (_, offset) => {
      seed()
      const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' })
      holder = { kill: () => void sleeper.kill('SIGKILL') }
      writeFileSync(`${config}.lock`, lockOf(sleeper.pid!))
      const run = await write({ ...steppedEnv(), IID_DOCKER_AUTH_LOCK_TIMEOUT: '4' }, stepWhen(/waiting for process/, offset))
      expect(run.code, run.stderr).toBe(73)
      expect(run.stderr).toContain(`is held by process ${sleeper.pid}, still running after 4 s`)
      expect(run.ms).toBeGreaterThan(3000)
      expect(run.ms).toBeLessThan(14_000)
      expect(readFileSync(config, 'utf8')).toBe('{}')
    },
  )

  it('an empty lock with a future mtime and no live holder: taken after a moment, not after the timeout', async () => {
    seed()
    writeFileSync(`${config}.lock`, '')
    const future = new Date(Date.now() + hour)
    utimesSync(`${config}.lock`, future, future)
    const run = await write({ IID_DOCKER_AUTH_LOCK_TIMEOUT: '20' })
    expect(run.code, run.stderr).toBe(0)
    expect(run.ms).toBeLessThan(15_000)
    expect(readdirSync(join(dir, 'docker'))).toEqual(['config.json'])
  })

  it('held by a zombie (a container with no init): not a live holder, taken at once', async () => {
    seed()
    const zombie = await spawnZombie()
    holder = zombie
    writeFileSync(`${config}.lock`, lockOf(zombie.pid))
    const run = await write({ IID_DOCKER_AUTH_LOCK_TIMEOUT: '20' })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).not.toContain('waiting for process')
    expect(run.ms).toBeLessThan(15_000)
    expect(readdirSync(join(dir, 'docker'))).toEqual(['config.json'])
  })

  describe.runIf(rootOrCi && haveOrCi('chattr'))('in an append-only directory (chattr +a)', () => {
    afterEach(() => {
      if (existsSync(join(dir, 'docker'))) execFileSync('chattr', ['-a', join(dir, 'docker')])
    })

    it('a stale lock that cannot be broken: 73 at once naming the cause, never "another process"; the next run too', async () => {
      seed()
      const child = spawn(process.execPath, ['-e', '0'])
      await new Promise((r) => child.on('exit', r))
      writeFileSync(`${config}.lock`, JSON.stringify({ ...currentOwner(), pid: child.pid }))
      execFileSync('chattr', ['+a', join(dir, 'docker')])
      for (const round of [1, 2]) {
        const run = await write({ IID_DOCKER_AUTH_LOCK_TIMEOUT: '20' })
        expect(run.code, `round ${round}: ${run.stderr}`).toBe(73)
        expect(run.stderr).toContain('operation not permitted: the directory may be append-only or immutable')
        expect(run.stderr).toContain(`lsattr -d ${join(dir, 'docker')}`)
        expect(run.stderr).not.toContain('another process')
        expect(run.ms).toBeLessThan(15_000)
        expect(readFileSync(config, 'utf8')).toBe('{}')
      }
    })
  })
})
