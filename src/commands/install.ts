// `install` and `uninstall`: from the flags to the root they act on, then the boot unit
// (install-unit.ts) or, with --credential-helper, the helper's settings (install-credential-helper.ts).

import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { CliIo } from '../cli/io.js'
import { type SettingFlags, resolveOutput } from '../settings/settings.js'
import { configSetting } from '../settings/values.js'
import { withVariables } from '../systemd/install-settings.js'
import { failureReport } from '../cli/report.js'
import { absolute } from '../config/locations.js'
import { CliError, usageError } from '../errors.js'
import { type Layout, defaultLayout, imageRootHome } from '../systemd/layout.js'
import { installCredentialHelper } from './install-credential-helper.js'
import { installUnit, uninstallUnit } from './install-unit.js'

export interface InstallFlags extends SettingFlags {
  root?: string
  unitDir?: string
  enable?: boolean
  now?: boolean
  force?: boolean
  node?: string
  cli?: string
  credentialHelper?: boolean
}

function layoutFrom(flags: { root?: string; unitDir?: string; now?: boolean }, io: CliIo): Layout {
  if (flags.root !== undefined && flags.now)
    throw usageError('--now cannot start a unit in an alternate --root', 'boot the image, or drop --now')
  if (flags.unitDir !== undefined && !flags.unitDir.startsWith('/')) {
    throw usageError(
      `--unit-dir ${JSON.stringify(flags.unitDir)} must be absolute (inside --root when given)`,
      'e.g. --unit-dir /etc/systemd/system',
    )
  }
  const root = flags.root === undefined ? undefined : absolute(flags.root, '--root', io.cwd)
  // A mistyped --root would otherwise become a new tree (install) or an empty one (uninstall).
  if (root !== undefined) {
    const stat = statSync(root, { throwIfNoEntry: false })
    const hint = 'give the root of an existing image tree, e.g. --root /mnt/image'
    if (stat === undefined) throw usageError(`--root ${root} does not exist`, hint)
    if (!stat.isDirectory()) throw usageError(`--root ${root} is not a directory`, hint)
  }
  return defaultLayout(root, flags.unitDir)
}

/** A refusal before any step ran still reports, with --json, the root it was refused for. */
async function reportingRoot(
  command: 'install' | 'uninstall',
  flags: InstallFlags,
  io: CliIo,
  run: (layout: Layout) => Promise<number>,
): Promise<number> {
  const layout = layoutFrom(flags, io)
  try {
    return await run(layout)
  } catch (error) {
    if (error instanceof CliError && layout.root !== undefined && resolveOutput(flags, io.env).json) {
      io.stdout(`${JSON.stringify(failureReport(command, error.exitCode, error, flags.dryRun ?? false, 0, layout.root))}\n`)
    }
    throw error
  }
}

export async function install(flags: InstallFlags, io: CliIo): Promise<number> {
  flags = withVariables(flags, io.env)
  resolveOutput(flags, io.env)
  return reportingRoot('install', flags, io, async (layout) => {
    const configFiles = configSetting(flags, {})?.items ?? [join(await imageRootHome(layout), '.docker', 'config.json')]
    return flags.credentialHelper ? installCredentialHelper(layout, configFiles, flags, io) : installUnit(layout, configFiles, flags, io)
  })
}

export async function uninstall(flags: InstallFlags, io: CliIo): Promise<number> {
  resolveOutput(flags, io.env)
  return reportingRoot('uninstall', flags, io, (layout) => uninstallUnit(layout, flags, io))
}
