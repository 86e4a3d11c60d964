// systemctl, the only program this tool runs. Behind this function so tests can run the real one
// against an alternate root (--root), and failures become one clear line with exit code 71.

import { execa } from 'execa'
import { CliError, ExitCode, errnoOf } from './errors.js'

export type Systemctl = (args: readonly string[]) => Promise<void>

export const runSystemctl: Systemctl = async (args) => {
  try {
    await execa('systemctl', [...args], { stdin: 'ignore', all: true, timeout: 120_000 })
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') {
      throw new CliError(ExitCode.systemctlFailed, 'systemctl was not found: this machine does not run systemd', {
        hint: 'to prepare an image offline, pass --root <image root>; otherwise run the tool from user-data instead of a unit',
      })
    }
    const { exitCode, all } = error as { exitCode?: number; all?: string }
    const last = (all ?? '').trim().split('\n').filter(Boolean).pop() ?? (error instanceof Error ? error.message : String(error))
    throw new CliError(ExitCode.systemctlFailed, `systemctl ${args.join(' ')} failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${last}`, {
      hint: 'see the message above; `journalctl -xe` has more on a running system',
      cause: error,
    })
  }
}

/** `systemctl show` properties of a unit, or undefined when systemd is not running here. */
export async function showUnit(unit: string, properties: readonly string[]): Promise<Record<string, string> | undefined> {
  try {
    const { stdout } = await execa('systemctl', ['show', unit, '-p', properties.join(',')], { stdin: 'ignore', timeout: 10_000 })
    return Object.fromEntries(
      stdout
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    )
  } catch {
    return undefined
  }
}
