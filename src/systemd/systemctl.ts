// systemctl, through execa, for install and uninstall on this machine (under --root the tool makes
// the links itself). A failure becomes one clear line with exit code 71.

import { existsSync } from 'node:fs'
import { execa } from 'execa'
import { CliError, ExitCode } from '../errors.js'

export type Systemctl = (args: readonly string[], timeoutSeconds?: number) => Promise<void>

/** Runs systemctl with no input and a time limit; never rejects. */
const systemctl = (args: readonly string[], timeoutMs: number) =>
  execa('systemctl', [...args], { stdin: 'ignore', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20, reject: false })

/** Whether systemd runs this machine (sd_booted(3)'s test); not in a chroot, container build or image. */
export const systemdIsRunning = (): boolean => existsSync('/run/systemd/system')

export const runSystemctl: Systemctl = async (args, timeoutSeconds = 120) => {
  const result = await systemctl(args, timeoutSeconds * 1000)
  if (!result.failed) return
  if (result.code === 'ENOENT') {
    throw new CliError(ExitCode.systemctlFailed, 'systemctl was not found: this machine does not run systemd', {
      hint: 'to prepare an image offline, pass --root <image root>; otherwise run the tool from user-data instead of a unit',
    })
  }
  const exit = result.timedOut
    ? ` (timed out after ${timeoutSeconds} s)`
    : result.exitCode !== undefined
      ? ` (exit ${result.exitCode})`
      : ''
  const last = `${result.stdout}\n${result.stderr}`.trim().split('\n').filter(Boolean).pop() ?? result.shortMessage
  throw new CliError(ExitCode.systemctlFailed, `systemctl ${args.join(' ')} failed${exit}: ${last}`, {
    hint: !systemdIsRunning()
      ? 'systemd is not running here: to prepare this tree as an image, pass --root / (or the tree)'
      : 'see the message above; `journalctl -xe` has more on a running system',
    cause: result,
  })
}

/** `systemctl show` properties of a unit, or undefined when systemd is not running here. */
export async function showUnit(unit: string, properties: readonly string[]): Promise<Record<string, string> | undefined> {
  const result = await systemctl(['show', unit, '-p', properties.join(',')], 10_000)
  if (result.failed) return undefined
  return Object.fromEntries(
    result.stdout
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  )
}
