// Shared helpers for end-to-end tests: spawn the built CLI as an operator would, and check that
// no secret reaches its output.
import { type CliRun, recordRun } from './runs.js'
import { execa } from 'execa'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest'
import { CliError } from '../../src/errors.js'
import { onPath } from '../../src/cli/path-lookup.js'
import { type ImdsSimulator, startImdsSimulator } from '../../sim/imds-simulator.js'

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const cliPath = join(repoRoot, 'bin', 'iid-docker-auth.cjs')
export const isRoot = process.geteuid?.() === 0
/** Tests that need root run whenever CI=true, so that a CI without root fails instead of skipping. */
export const rootOrCi = isRoot || process.env['CI'] === 'true'

/** Whether a program is on PATH. */
export const hasCommand = (name: string): boolean => onPath(name, process.env['PATH'])

/** Tests that need Debian tools run when the tools are there, and always under CI=true. */
export const haveOrCi = (...commands: string[]): boolean => process.env['CI'] === 'true' || commands.every(hasCommand)

export type { CliRun } from './runs.js'

export interface RunCliOptions {
  readonly env?: Record<string, string | undefined>
  readonly timeoutMs?: number
  readonly prefix?: readonly string[]
  /** Written to stdin, which is then closed (else stdin is /dev/null). */
  readonly input?: string
  /** The command answers a credential protocol on stdout (kubelet-credential-provider); stderr is still checked in full. */
  readonly protocolStdout?: boolean
  /** Sees stderr as it arrives, to act while the command runs. */
  readonly onStderr?: (text: string) => void
}

export async function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliRun> {
  const started = Date.now()
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries({ ...process.env, ...options.env })) if (v !== undefined) env[k] = v
  const [command, ...prefixArgs] = options.prefix ?? [process.execPath]
  const result = await runProgram(command!, [...prefixArgs, ...(options.prefix ? [process.execPath] : []), cliPath, ...args], {
    env,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.onStderr ? { onStderr: options.onStderr } : {}),
  })
  const run = {
    code: result.status,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    ms: Date.now() - started,
    protocolStdout: options.protocolStdout ?? false,
  }
  recordRun(run)
  return run
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

/** Runs a program (through execa) without blocking the event loop: servers in this process must keep answering. */
export async function runProgram(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; input?: string; onStderr?: (text: string) => void } = {},
): Promise<ProgramRun> {
  const subprocess = execa(command, [...args], {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: options.env ?? process.env,
    extendEnv: false,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    timeout: options.timeoutMs ?? 30_000,
    killSignal: 'SIGKILL',
    stripFinalNewline: false,
    reject: false,
  })
  if (options.onStderr) subprocess.stderr?.on('data', (chunk: Buffer) => options.onStderr!(chunk.toString('utf8')))
  const result = await subprocess
  if (result.code === 'ENOENT') throw new Error(`${command} not found: ${result.shortMessage}`)
  return {
    status: result.exitCode ?? null,
    signal: (result.signal as NodeJS.Signals | undefined) ?? null,
    stdout: result.stdout,
    stderr: result.stderr,
  }
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

/**
 * One IMDS simulator for the enclosing file or describe block, with its faults and request log
 * reset before each test. The returned object always stands for the live simulator.
 */
export function useSimulator(): ImdsSimulator {
  let current: ImdsSimulator | undefined
  beforeAll(async () => {
    current = await startImdsSimulator()
  })
  afterAll(async () => {
    await current?.close()
  })
  beforeEach(() => {
    current?.setFaults({})
    current?.requests.splice(0)
  })
  return new Proxy({} as ImdsSimulator, {
    get: (_, property) => {
      const value: unknown = Reflect.get(current!, property)
      return typeof value === 'function' ? value.bind(current) : value
    },
  })
}

/**
 * A fresh temporary directory for each test, removed after it. Register it before any afterEach
 * that must run first (unmounting, chattr -i): vitest runs afterEach hooks last-registered first.
 */
export function useTempDir(prefix: string, onCreate: (dir: string) => void): void {
  let dir: string | undefined
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix))
    onCreate(dir)
  })
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })
}

/**
 * A zombie, as a container with no init keeps them: a child that exited and that its parent (a
 * `sleep` that never waits) does not reap. `kill` ends the parent, and so the zombie.
 */
export async function spawnZombie(): Promise<{ readonly pid: number; kill(): void }> {
  const parent = spawn('sh', ['-c', 'sleep 0 & exec sleep 60'], { stdio: 'ignore' })
  const kill = (): void => void parent.kill('SIGKILL')
  for (let tries = 0; tries < 100; tries++) {
    for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      let stat
      try {
        stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      } catch {
        continue
      }
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (state === 'Z' && Number(ppid) === parent.pid) return { pid: Number(name), kill }
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  kill()
  throw new Error('no zombie appeared')
}
