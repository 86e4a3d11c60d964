// Crash safety: SIGKILL the tool at chosen moments of a write to a large config, at least 200
// times, and check after every kill that the file is the complete old or the complete new content
// with its mode intact, and that the next normal run cleans up and succeeds.
import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, watch, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ImdsSimulator, startImdsSimulator } from '../../sim/imds-simulator.js'
import { cliPath, runCli } from '../support/helpers.js'

let sim: ImdsSimulator
let dir: string
let config: string
let oldBytes: Buffer
let newBytes: Buffer

const entries = 12_000
const args = () => ['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url, '--timeout', '10']

beforeAll(async () => {
  sim = await startImdsSimulator()
  dir = mkdtempSync(join(tmpdir(), 'iid-crash-'))
  config = join(dir, 'config.json')
  const auths: Record<string, { auth: string }> = {}
  for (let i = 0; i < entries; i++) auths[`r${i}.example.com`] = { auth: Buffer.from(`user${i}:password-${i}`).toString('base64') }
  oldBytes = Buffer.from(JSON.stringify({ auths, psFormat: 'table', 'x-custom': { n: 12345678901234567890 } }))
  writeFileSync(config, oldBytes, { mode: 0o640 })
  const reference = await runCli(args())
  expect(reference.code).toBe(0)
  newBytes = readFileSync(config)
  expect(newBytes.equals(oldBytes)).toBe(false)
}, 120_000)
afterAll(async () => {
  await sim.close()
  rmSync(dir, { recursive: true, force: true })
})

type Strategy = 'random' | 'temp-created' | 'temp-full' | 'replaced'
type Outcome = 'old, no temp' | 'old, partial temp' | 'old, complete temp' | 'new'

const leftovers = (): string[] => readdirSync(dir).filter((n) => n !== 'config.json')
const tempFiles = (): string[] => readdirSync(dir).filter((n) => n.endsWith('.tmp'))

/** Starts the tool and kills it at the moment the strategy picks; resolves when it is gone. */
function runAndKill(strategy: Strategy, expectedMs: number): Promise<void> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(process.execPath, [cliPath, ...args()], { stdio: 'ignore' })
    let done = false
    const kill = (): void => {
      if (done) return
      done = true
      child.kill('SIGKILL')
    }
    const watcher = watch(dir, (_event, name) => {
      if (name === null) return
      if (strategy === 'temp-created' && name.endsWith('.tmp')) setTimeout(kill, Math.random() * 6)
      if (strategy === 'replaced' && name === 'config.json' && statSync(config, { throwIfNoEntry: false })?.size === newBytes.length) kill()
    })
    let poll: NodeJS.Timeout | undefined
    if (strategy === 'temp-full') {
      const check = (): void => {
        for (const t of tempFiles()) if ((statSync(join(dir, t), { throwIfNoEntry: false })?.size ?? 0) >= newBytes.length) return kill()
        if (!done) poll = setTimeout(check, 0)
      }
      check()
    }
    if (strategy === 'random') setTimeout(kill, Math.random() * expectedMs)
    child.on('exit', () => {
      done = true
      watcher.close()
      clearTimeout(poll)
      resolve()
    })
  })
}

describe('SIGKILL during writes', () => {
  it('leaves the complete old or the complete new file every time, and the next run recovers', async () => {
    const started = Date.now()
    const timed = await runCli(args())
    const expectedMs = Math.max(200, Date.now() - started)
    expect(timed.code).toBe(0)

    const outcomes: Record<Outcome, number> = { 'old, no temp': 0, 'old, partial temp': 0, 'old, complete temp': 0, new: 0 }
    const strategies: Strategy[] = ['random', 'temp-created', 'temp-full', 'replaced']
    let kills = 0
    let recoveries = 0
    for (let i = 0; i < 220; i++) {
      writeFileSync(config, oldBytes)
      chmodSync(config, 0o640)
      await runAndKill(strategies[i % strategies.length]!, expectedMs)
      kills++

      const now = readFileSync(config)
      const isOld = now.equals(oldBytes)
      expect(isOld || now.equals(newBytes), `kill ${i}: the file is neither the old nor the new content`).toBe(true)
      JSON.parse(now.toString('utf8'))
      expect(statSync(config).mode & 0o777, `kill ${i}: mode changed`).toBe(0o640)
      // A temp file is 0600 while written, and gets the target's own mode (0640 here) just before the
      // rename, so that the replacement is atomic in mode too: never wider than the target.
      for (const t of tempFiles())
        expect(statSync(join(dir, t)).mode & 0o777 & ~0o640, `kill ${i}: temp file wider than the target`).toBe(0)
      const temps = tempFiles()
      const tempSize = temps.length > 0 ? statSync(join(dir, temps[0]!)).size : -1
      outcomes[
        !isOld ? 'new' : temps.length === 0 ? 'old, no temp' : tempSize < newBytes.length ? 'old, partial temp' : 'old, complete temp'
      ]++

      if (leftovers().length > 0 || isOld) {
        const recovery = await runCli(args())
        recoveries++
        expect(recovery.code, `kill ${i}: recovery run: ${recovery.stderr}`).toBe(0)
        expect(readFileSync(config).equals(newBytes), `kill ${i}: recovery did not write the new content`).toBe(true)
        expect(leftovers(), `kill ${i}: leftovers after recovery`).toEqual([])
        expect(statSync(config).mode & 0o777).toBe(0o640)
      }
    }
    console.log(`crash torture: ${kills} kills, ${recoveries} recovery runs, outcomes ${JSON.stringify(outcomes)}`)
    expect(kills).toBeGreaterThanOrEqual(200)
    // The kills really landed in every phase: before the temp file, during its write, between the
    // complete temp file and the rename, and after the rename.
    for (const outcome of Object.keys(outcomes) as Outcome[]) expect(outcomes[outcome], `no kill landed as "${outcome}"`).toBeGreaterThan(0)
    expect(existsSync(`${config}.lock`)).toBe(false)
  }, 600_000)
})
