// IMDS soak: 1,000 runs of the CLI, each against a fault drawn at random. Every run must end within
// its deadline plus one second, with the documented exit code for the fault it met, and never leave
// a partial entry.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildAuth } from '../../src/imds/identity.js'
import { type ImdsSimulator, type SimulatorFaults, startImdsSimulator } from '../../sim/imds-simulator.js'
import { runCli } from '../support/helpers.js'

interface Fault {
  readonly name: string
  readonly faults: SimulatorFaults
  readonly exitCode: number
}

/** Every fault the simulator supports, with the exit code the documentation promises for it. */
const faults: Fault[] = [
  { name: 'none', faults: {}, exitCode: 0 },
  { name: 'token 403 (IMDS disabled)', faults: { routes: { token: { status: 403 } } }, exitCode: 69 },
  { name: 'token 404', faults: { routes: { token: { status: 404 } } }, exitCode: 69 },
  { name: 'token 400', faults: { routes: { token: { status: 400 } } }, exitCode: 69 },
  { name: 'token 405', faults: { routes: { token: { status: 405 } } }, exitCode: 69 },
  { name: 'token 500 twice', faults: { routes: { token: { status: 500, times: 2 } } }, exitCode: 0 },
  { name: 'token 503 always', faults: { routes: { token: { status: 503 } } }, exitCode: 69 },
  { name: 'token hangs (hop limit)', faults: { routes: { token: { hang: true } } }, exitCode: 69 },
  { name: 'token hangs once', faults: { routes: { token: { hang: true, times: 1 } } }, exitCode: 0 },
  { name: 'token reset twice', faults: { routes: { token: { reset: true, times: 2 } } }, exitCode: 0 },
  { name: 'token reset always', faults: { routes: { token: { reset: true } } }, exitCode: 69 },
  { name: 'token body stalls', faults: { routes: { token: { stallBody: true } } }, exitCode: 69 },
  { name: 'token empty', faults: { routes: { token: { body: '' } } }, exitCode: 65 },
  { name: 'tokens expire at once', faults: { tokenLifetimeMs: 0 }, exitCode: 69 },
  { name: 'document 401 once', faults: { routes: { document: { status: 401, times: 1 } } }, exitCode: 0 },
  { name: 'document 404', faults: { routes: { document: { status: 404 } } }, exitCode: 69 },
  { name: 'document 408 twice', faults: { routes: { document: { status: 408, times: 2 } } }, exitCode: 0 },
  { name: 'document 429 always', faults: { routes: { document: { status: 429 } } }, exitCode: 69 },
  { name: 'document 502 once', faults: { routes: { document: { status: 502, times: 1 } } }, exitCode: 0 },
  { name: 'document slow headers (below timeout)', faults: { routes: { document: { delayMs: 100 } } }, exitCode: 0 },
  { name: 'document headers slower than any attempt', faults: { routes: { document: { delayMs: 5000 } } }, exitCode: 69 },
  { name: 'document headers slow once', faults: { routes: { document: { delayMs: 5000, times: 1 } } }, exitCode: 0 },
  { name: 'document body stalls once', faults: { routes: { document: { stallBody: true, times: 1 } } }, exitCode: 0 },
  { name: 'document body stalls always', faults: { routes: { document: { stallBody: true } } }, exitCode: 69 },
  { name: 'document reset always', faults: { routes: { document: { reset: true } } }, exitCode: 69 },
  { name: 'document empty', faults: { routes: { document: { body: '' } } }, exitCode: 65 },
  { name: 'document invalid JSON', faults: { routes: { document: { body: '{"instanceId":' } } }, exitCode: 65 },
  { name: 'document invalid once', faults: { routes: { document: { body: 'nope', times: 1 } } }, exitCode: 0 },
  { name: 'pkcs7 empty', faults: { routes: { pkcs7: { body: '' } } }, exitCode: 65 },
  { name: 'pkcs7 not base64', faults: { routes: { pkcs7: { body: '<html>' } } }, exitCode: 65 },
  { name: 'pkcs7 not ASN.1', faults: { routes: { pkcs7: { body: 'aGVsbG8=' } } }, exitCode: 65 },
  { name: 'pkcs7 hangs', faults: { routes: { pkcs7: { hang: true } } }, exitCode: 69 },
  { name: 'pkcs7 403', faults: { routes: { pkcs7: { status: 403 } } }, exitCode: 69 },
]

const runs = 1000
const parallel = 4
const deadlineSeconds = 1
let sims: ImdsSimulator[]
let dir: string

beforeAll(async () => {
  sims = await Promise.all(Array.from({ length: parallel }, () => startImdsSimulator()))
  dir = mkdtempSync(join(tmpdir(), 'iid-soak-'))
})
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()))
  rmSync(dir, { recursive: true, force: true })
})

describe('IMDS soak', () => {
  it(`${runs} runs with random faults: deadline + 1 s, documented exit codes, no partial entry`, async () => {
    const seen = new Map<string, { runs: number; maxMs: number }>()
    let next = 0
    const worker = async (sim: ImdsSimulator, w: number): Promise<void> => {
      for (;;) {
        const i = next++
        if (i >= runs) return
        const fault = faults[Math.floor(Math.random() * faults.length)]!
        sim.setFaults(fault.faults)
        const config = join(dir, `config-${w}-${i}.json`)
        const run = await runCli(
          ['-r', 'pierone.example.com', '-c', config, '--endpoint', sim.url, '--timeout', String(deadlineSeconds), '-q'],
          {
            timeoutMs: 10_000,
            // Short requests, so that a fault met once can be retried within the 1 s deadline.
            env: { IID_DOCKER_AUTH_ATTEMPT_TIMEOUT: '0.3' },
          },
        )
        expect(run.code, `run ${i}, fault "${fault.name}": ${run.stderr}`).toBe(fault.exitCode)
        expect(run.ms, `run ${i}, fault "${fault.name}" took ${run.ms} ms`).toBeLessThan(deadlineSeconds * 1000 + 1000)
        if (run.code === 0) {
          const auth = (JSON.parse(readFileSync(config, 'utf8')) as { auths: Record<string, { auth: string }> }).auths[
            'pierone.example.com'
          ]!.auth
          expect(auth).toBe(buildAuth('instance-identity-document', sim.pkcs7, false))
        } else {
          expect(existsSync(config), `run ${i}, fault "${fault.name}": a failed run wrote the file`).toBe(false)
        }
        const stats = seen.get(fault.name) ?? { runs: 0, maxMs: 0 }
        seen.set(fault.name, { runs: stats.runs + 1, maxMs: Math.max(stats.maxMs, run.ms) })
        rmSync(config, { force: true })
      }
    }
    await Promise.all(sims.map((sim, w) => worker(sim, w)))
    const slowest = Math.max(...[...seen.values()].map((s) => s.maxMs))
    console.log(`soak: ${runs} runs over ${seen.size} faults; slowest run ${slowest} ms (deadline ${deadlineSeconds * 1000} ms)`)
    expect(seen.size).toBe(faults.length)
  }, 600_000)
})
