// Shared helpers for end-to-end tests: spawn the built CLI as an operator would, and check that
// no secret reaches its output.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import { expect } from 'vitest'
import { CliError } from '../src/errors.js'
import type { ImdsSimulator } from '../src/sim/imds-simulator.js'

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
export const cliPath = join(repoRoot, 'bin', 'iid-docker-auth.cjs')
export const isRoot = process.geteuid?.() === 0
/** Tests that need root run whenever CI=true, so that a CI without root fails instead of skipping. */
export const rootOrCi = isRoot || process.env['CI'] === 'true'

/** Whether a program is on PATH. */
export function hasCommand(name: string): boolean {
  return (process.env['PATH'] ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, name)))
}

/** Tests that need Debian tools run when the tools are there, and always under CI=true. */
export const haveOrCi = (...commands: string[]): boolean => process.env['CI'] === 'true' || commands.every(hasCommand)

export interface CliRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

const runs: CliRun[] = []

/** Every run since the last call, so an afterEach hook can check them all for secrets. */
export const takeRuns = (): CliRun[] => runs.splice(0)

export async function runCli(args: readonly string[], options: { env?: Record<string, string | undefined>; timeoutMs?: number; prefix?: readonly string[] } = {}): Promise<CliRun> {
  const started = Date.now()
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries({ ...process.env, ...options.env })) if (v !== undefined) env[k] = v
  const [command, ...prefixArgs] = options.prefix ?? [process.execPath]
  const result = await runProgram(command!, [...prefixArgs, ...(options.prefix ? [process.execPath] : []), cliPath, ...args], { env, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) })
  const run = { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr, ms: Date.now() - started }
  runs.push(run)
  return run
}

/** The credential, the PKCS7 (any line of it) and every IMDS token must never be printed. */
export function expectNoSecrets(run: Pick<CliRun, 'stdout' | 'stderr'>, sim: ImdsSimulator, auths: readonly string[] = []): void {
  const output = run.stdout + run.stderr
  for (const secret of [...sim.pkcs7.split('\n'), ...sim.rsa2048.split('\n'), ...sim.issuedTokens(), ...auths]) {
    if (secret.length >= 16) expect(output.includes(secret), 'a secret reached the output').toBe(false)
  }
}

/** IMDSv2 discipline over everything the simulator saw: no tokenless GET, no `//` path. */
export function expectImdsV2Only(sim: ImdsSimulator): void {
  for (const r of sim.requests) {
    expect(r.path.startsWith('//'), `path ${r.path}`).toBe(false)
    if (r.method === 'GET') expect(r.token, `tokenless GET ${r.path}`).not.toBe('none')
  }
}

/** The CliError a promise rejects with; fails the test if it resolves or throws something else. */
export async function rejection(promise: Promise<unknown>): Promise<CliError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof CliError) return error
    throw error
  }
  throw new Error('expected a CliError')
}

export interface ProgramRun {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a program without blocking the event loop (servers in this process must keep answering). */
export function runProgram(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ProgramRun> {
  const child = spawn(command, [...args], { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status, signal) => {
      clearTimeout(killer)
      resolve({ status, signal, stdout, stderr })
    })
  })
}

const ajv = new Ajv({ allErrors: true, strict: true })
const schemaDir = join(repoRoot, 'test', 'schemas')
for (const file of readdirSync(schemaDir)) ajv.addSchema(JSON.parse(readFileSync(join(schemaDir, file), 'utf8')) as object)

/** Parses a --json output and validates it against test/schemas/<command>.schema.json. */
export function validJson(stdout: string, command: 'write' | 'check' | 'install' | 'remove'): any {
  expect(stdout.trim().split('\n'), 'one JSON object on one line').toHaveLength(1)
  const value: unknown = JSON.parse(stdout)
  const validate = ajv.getSchema(`${command}.schema.json`)!
  expect(validate(value) ? [] : validate.errors).toEqual([])
  return value
}
