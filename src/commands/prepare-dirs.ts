// `prepare-dirs`: the unit's privileged ExecStartPre, before its sandbox exists (systemd can make
// only an existing directory writable).

import { type CliIo, loggerFor } from '../cli/io.js'
import { type OutputFlags, resolveOutput } from '../settings/settings.js'
import { configSetting } from '../settings/values.js'
import { reportError } from '../cli/report.js'
import { locationsFor } from '../config/locations.js'
import { CliError, ExitCode } from '../errors.js'
import { dirname } from 'node:path'
import { withRightsFor } from '../fs/acting-user.js'
import { ensureDirectory } from '../fs/config-file.js'

/**
 * `prepare-dirs`, which the unit runs before its sandbox exists: creates each config file's
 * missing directory, owned by the owner of the directory it is created in.
 */
export async function prepareDirs(flags: { config?: string[] } & OutputFlags, io: CliIo): Promise<number> {
  const log = loggerFor(resolveOutput(flags, io.env).verbosity, io)
  let exitCode: number = ExitCode.ok
  for (const location of locationsFor(configSetting(flags, io.env), io)) {
    try {
      // With the rights of the user who owns the directory it is created in.
      const created = await withRightsFor(location.path, async (target) => ensureDirectory(dirname(target)))
      if (created !== undefined) log.info(`created ${created} for ${location.path}`)
    } catch (error) {
      if (!(error instanceof CliError)) throw error
      reportError(error, log)
      if (exitCode === ExitCode.ok) exitCode = error.exitCode
    }
  }
  return exitCode
}
