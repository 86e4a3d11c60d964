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
