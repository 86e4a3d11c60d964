// Install and uninstall of the boot unit: the checks the unit's own run would make, made now; then
// the plan (systemd/plan.ts), printed with --dry-run or run, and reported.

import { lstatSync, realpathSync } from 'node:fs'
import { dirname } from 'node:path'
import { type CliIo, loggerFor } from '../cli/io.js'
import { isSingleExecutable } from '../cli/version.js'
import { type OutputFlags, resolveOutput } from '../settings/settings.js'
import { jsonError, reportError } from '../cli/report.js'
import { CliError, ExitCode } from '../errors.js'
import { actorFor, userName } from '../fs/acting-user.js'
import { onHost, walkPath } from '../fs/resolve-path.js'
import type { ErrorInfo } from '../fs/update-config-file.js'
import { installSettings } from '../systemd/install-settings.js'
import { type Layout, readInstalledState } from '../systemd/layout.js'
import { planInstall, planUninstall } from '../systemd/plan.js'
import { type Step, describeStep, jsonStep, runSteps } from '../systemd/steps.js'
import { runSystemctl } from '../systemd/systemctl.js'
import { unitTemplate } from '../systemd/unit.js'
import type { InstallFlags } from './install.js'

/** A program under --root as the booted image will see it: this machine's path to it, less the root. */
const imagePath = (path: string, root: string | undefined): string =>
  root !== undefined && path.startsWith(`${root.replace(/\/+$/, '')}/`) ? path.slice(root.replace(/\/+$/, '').length) : path

export async function installUnit(layout: Layout, configFiles: readonly string[], flags: InstallFlags, io: CliIo): Promise<number> {
  const log = loggerFor(resolveOutput(flags, io.env).verbosity, io)
  // The single executable is node and CLI in one: ExecStart runs it alone.
  const inImage = (path: string): string => imagePath(path, layout.root)
  const given = flags.cli ?? (isSingleExecutable ? undefined : realpathSync(process.argv[1] ?? ''))
  const cli = given === undefined ? undefined : inImage(given)
  const node = inImage(flags.node ?? process.execPath)
  const { root } = layout
  for (const path of cli === undefined ? [node] : [node, cli]) {
    if (root !== undefined && lstatSync(onHost(root, walkPath(path, root).target), { throwIfNoEntry: false }) === undefined)
      log.warn(`the unit will run ${path}, which is not in the image at ${root}; pass --node (and --cli) as the image will have them`)
  }
  if (cli !== undefined && /\/_npx\//.test(cli)) {
    log.warn(
      `the unit would run ${cli} from npx's cache, which npm may delete; ` +
        'install the package (npm install -g iid-docker-auth) and run install from there, or pass --cli',
    )
  }
  for (const path of cli === undefined ? [node] : [node, cli]) {
    if (/^\/(var\/)?tmp\//.test(path))
      log.warn(`the unit runs with PrivateTmp=yes and cannot see ${path}; install node and the package outside /tmp, or pass --node/--cli`)
  }
  const settings = installSettings(flags, configFiles)
  // Each file's directory as the unit will really write it: a symlinked --config, the target's.
  // The rights rule the unit's run will apply, applied now: a path it would refuse is not installed.
  const files = configFiles.map((path) => {
    const walk = walkPath(path, layout.root ?? '/')
    actorFor(path, walk)
    // A user's link would choose which directory root's sandbox opens for writing.
    const theirs = walk.links.find((link) => link.uid !== 0)
    if (theirs !== undefined) {
      const owner = userName(theirs.uid)
      const why = `the symlink ${theirs.path} on the way to it belongs to ${owner}, and would choose what the unit's ReadWritePaths= opens`
      throw new CliError(ExitCode.cannotWrite, `${path}: ${why}; nothing was changed`, {
        hint: `pass --config with the path it leads to (${walk.target})`,
      })
    }
    return { path, directory: dirname(walk.target) }
  })
  const force = flags.force ?? false
  const request = {
    layout,
    paths: { node, cli, configFiles: files },
    settings,
    enable: flags.enable ?? true,
    now: flags.now ?? false,
    force,
  }
  const steps = planInstall(request, await readInstalledState(layout, force, unitTemplate()), unitTemplate())
  return applySteps('install', layout, steps, flags, io)
}

export async function uninstallUnit(layout: Layout, flags: InstallFlags, io: CliIo): Promise<number> {
  const force = flags.force ?? false
  return applySteps('uninstall', layout, planUninstall(layout, await readInstalledState(layout, force, unitTemplate()), force), flags, io)
}

/** Prints or runs the steps, and reports them; shared by install and uninstall. */
async function applySteps(
  command: string,
  layout: Layout,
  steps: readonly Step[],
  flags: OutputFlags & { dryRun?: boolean },
  io: CliIo,
): Promise<number> {
  const output = resolveOutput(flags, io.env)
  const log = loggerFor(output.verbosity, io)
  const dryRun = flags.dryRun ?? false
  const done: Step[] = []
  let error: ErrorInfo | undefined
  if (dryRun) {
    for (const step of steps) log.info(describeStep(step, true))
  } else {
    if (steps.length === 0) log.info('nothing is installed')
    try {
      await runSteps(steps, runSystemctl, log, (s) => done.push(s))
    } catch (e) {
      if (!(e instanceof CliError)) throw e
      error = { exitCode: e.exitCode, message: e.message, hint: e.hint }
      reportError(error, log)
    }
  }
  const exitCode = error?.exitCode ?? ExitCode.ok
  if (output.json) {
    const report = {
      ok: exitCode === 0,
      exitCode,
      command,
      dryRun,
      root: layout.root ?? null,
      steps: (dryRun ? steps : done).map(jsonStep),
      error: jsonError(error),
    }
    io.stdout(`${JSON.stringify(report)}\n`)
  }
  return exitCode
}
