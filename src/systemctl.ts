// systemctl, the only program this tool runs. Behind this function so tests can run the real one
// against an alternate root (--root), and failures become one clear line with exit code 71.

import { execFile } from 'node:child_process'
import { CliError, ExitCode, errnoOf } from './errors.js'

export type Systemctl = (args: readonly string[]) => Promise<void>

interface Finished {
  readonly error: (Error & { code?: unknown; killed?: boolean }) | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs systemctl with no input and a time limit; never rejects. */
function systemctl(args: readonly string[], timeoutMs: number): Promise<Finished> {
  return new Promise((resolve) => {
    const child = execFile('systemctl', [...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20, encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ error, stdout, stderr }),
    )
    child.stdin?.end()
  })
}

export const runSystemctl: Systemctl = async (args) => {
  const { error, stdout, stderr } = await systemctl(args, 120_000)
  if (error === null) return
  if (errnoOf(error) === 'ENOENT') {
    throw new CliError(ExitCode.systemctlFailed, 'systemctl was not found: this machine does not run systemd', {
      hint: 'to prepare an image offline, pass --root <image root>; otherwise run the tool from user-data instead of a unit',
    })
  }
  // execFile's error.code is the exit status when the program ran.
  const exit = typeof error.code === 'number' ? ` (exit ${error.code})` : error.killed === true ? ' (timed out after 120 s)' : ''
  const last = `${stdout}\n${stderr}`.trim().split('\n').filter(Boolean).pop() ?? error.message
  throw new CliError(ExitCode.systemctlFailed, `systemctl ${args.join(' ')} failed${exit}: ${last}`, {
    hint: 'see the message above; `journalctl -xe` has more on a running system',
    cause: error,
  })
}

/** `systemctl show` properties of a unit, or undefined when systemd is not running here. */
export async function showUnit(unit: string, properties: readonly string[]): Promise<Record<string, string> | undefined> {
  const { error, stdout } = await systemctl(['show', unit, '-p', properties.join(',')], 10_000)
  if (error !== null) return undefined
  return Object.fromEntries(
    stdout
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  )
}
