// `install --credential-helper`: the settings file docker-credential-iid reads, then
// credHelpers["<registry>"] = "iid" in each config file (the locked merge `write` uses). No unit:
// nothing needs to run at boot when clients ask for the credential on demand.

import { type CliIo, loggerFor } from '../cli/io.js'
import { onPath } from '../cli/path-lookup.js'
import { resolveOutput } from '../settings/settings.js'
import { envNames, lockTimeoutMs } from '../settings/values.js'
import { jsonConfigs, jsonError, reportConfigs, reportError } from '../cli/report.js'
import { planCredentialHelper } from '../config/merge.js'
import { CliError, ExitCode, usageError } from '../errors.js'
import { resolveRootOnly } from '../fs/acting-user.js'
import { type ConfigOutcome, type ErrorInfo, firstFailure, preflight, updateAll } from '../fs/update-config-file.js'
import { defaultUsername } from '../imds/identity.js'
import { installSettings } from '../systemd/install-settings.js'
import { type Layout, readInstalledState } from '../systemd/layout.js'
import { environmentStep } from '../systemd/plan.js'
import { type Step, describeStep, jsonStep, runSteps } from '../systemd/steps.js'
import { runSystemctl } from '../systemd/systemctl.js'
import { helperCommand } from './credential-helper.js'
import type { InstallFlags } from './install.js'

/** The flags that only the boot unit takes. */
const unitOnly = { now: '--now', node: '--node', cli: '--cli', unitDir: '--unit-dir' } as const

export async function installCredentialHelper(
  layout: Layout,
  configFiles: readonly string[],
  flags: InstallFlags,
  io: CliIo,
): Promise<number> {
  for (const [name, flag] of Object.entries(unitOnly)) {
    if (flags[name as keyof typeof unitOnly] !== undefined) {
      throw usageError(
        `${flag} is for the boot unit, which --credential-helper does not install`,
        'drop it, or run install without --credential-helper for the unit',
      )
    }
  }
  const settings = installSettings(flags, configFiles)
  const output = resolveOutput(flags, io.env)
  const log = loggerFor(output.verbosity, io)
  const dryRun = flags.dryRun ?? false
  const force = flags.force ?? false
  const registries = settings.find(([name]) => name === envNames.registries)![1].split(',')
  const username = settings.find(([name]) => name === envNames.username)?.[1] ?? defaultUsername
  const steps = [environmentStep(layout, settings, (await readInstalledState(layout, force)).environment, force)]
  const done: Step[] = []
  let outcomes: readonly ConfigOutcome[] = []
  let error: ErrorInfo | undefined
  try {
    // Every config file is read first: one that cannot be used stops the install before it writes anything.
    // On this machine each file follows the rights rule where it is written (withRightsFor); in an
    // image, where a user's directory could be swapped for a link out of it, only a way root's alone.
    const locations = configFiles.map((path) => ({
      path: layout.root === undefined ? path : resolveRootOnly(path, layout.root),
      source: '--config',
    }))
    const looks = await preflight(locations)
    const refused = looks.find((look) => look instanceof CliError)
    if (refused !== undefined) throw refused
    if (dryRun) for (const step of steps) log.info(describeStep(step, true))
    else await runSteps(steps, runSystemctl, log, (step) => done.push(step))
    outcomes = await updateAll(
      locations,
      (doc) => planCredentialHelper(doc, registries, username),
      { dryRun, log, lockTimeoutMs: lockTimeoutMs(io.env) },
      looks,
    )
    reportConfigs(outcomes, dryRun, 'install', log, io, output.json)
    error = firstFailure(outcomes)
  } catch (e) {
    if (!(e instanceof CliError)) throw e
    error = { exitCode: e.exitCode, message: e.message, hint: e.hint }
    reportError(error, log)
  }
  if (error === undefined && !onPath(helperCommand, io.env['PATH'])) {
    log.warn(
      `${helperCommand} is not on PATH here; clients run it by that name ` +
        `(npm install -g iid-docker-auth puts it there, or link bin/${helperCommand}.cjs)`,
    )
  }
  const exitCode = error?.exitCode ?? ExitCode.ok
  if (output.json) {
    // The settings file is a step, as for the unit; each config file is reported as `write` reports it.
    const taken = (dryRun ? steps : done).map(jsonStep)
    const report = {
      ok: exitCode === 0,
      exitCode,
      command: 'install',
      dryRun,
      root: layout.root ?? null,
      steps: taken,
      configs: jsonConfigs(outcomes),
      error: jsonError(error),
    }
    io.stdout(`${JSON.stringify(report)}\n`)
  }
  return exitCode
}
