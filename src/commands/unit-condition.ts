// `unit-condition`: the packaged unit's ExecCondition. A package is installed before anyone has
// set a registry; that boot must skip the unit with a line saying what to set, not fail it.

import type { CliIo } from '../cli/io.js'
import { ExitCode } from '../errors.js'
import { logLine } from '../log.js'
import { envNames } from '../settings/values.js'
import { environmentFileFor, loadSettings } from '../settings/settings-file.js'
import { unitName } from '../systemd/names.js'

/**
 * Exit 78 (systemd skips the unit) only when no registry is set anywhere; anything else, an
 * unreadable settings file or an empty list included, exits 0 so that write runs and reports it.
 */
export function unitCondition(io: CliIo): number {
  let env: Readonly<Record<string, string | undefined>>
  try {
    env = loadSettings(io.env).env
  } catch {
    return ExitCode.ok
  }
  if (env[envNames.registries] !== undefined) return ExitCode.ok
  const file = environmentFileFor(io.env)
  io.stderr(
    logLine(
      5,
      `iid-docker-auth: not configured yet, so ${unitName} is skipped: set ${envNames.registries}=<host[:port]> in ${file}, ` +
        `then systemctl start ${unitName} (or reboot)`,
      io.journal,
    ),
  )
  return ExitCode.configUnusable
}
