// What install and uninstall of the unit would do, from what is on disk now: pure, so a --dry-run
// prints exactly the steps a real run takes.

import { join } from 'node:path'
import { defaultTimeoutSeconds, envNames } from '../settings/values.js'
import { CliError, ExitCode, usageError } from '../errors.js'
import { isUneditedEnvironmentFile, renderEnvironmentFile } from './environment-file.js'
import { type InstalledState, type Layout, environmentPath, hostPath, removalPath, unitPath, wantsLinks } from './layout.js'
import { environmentFilePath, packageUnitPath, unitName } from './names.js'
import type { Step } from './steps.js'
import { type UnitPaths, isOurUnit, renderUnit, startMarginSeconds, startTimeoutSeconds } from './unit.js'

export interface InstallRequest {
  readonly layout: Layout
  readonly paths: UnitPaths
  readonly settings: ReadonlyArray<readonly [string, string]>
  readonly enable: boolean
  readonly now: boolean
  readonly force: boolean
}

export function planInstall(request: InstallRequest, state: InstalledState, template: string): Step[] {
  const { layout } = request
  const steps: Step[] = []
  const unitFile = unitPath(layout)
  // A unit of ours in /etc would override the package's and its settings would fight over one file.
  if (state.packageUnit) {
    throw usageError(
      `the iid-docker-auth package (deb or rpm) installed ${unitName} in ${hostPath(layout, packageUnitPath)}; nothing was changed`,
      `set the registries in ${environmentFilePath} instead (it runs at the next boot, or now: systemctl restart ${unitName})`,
    )
  }
  if (state.unit !== undefined && !isOurUnit(state.unit) && !request.force) {
    throw new CliError(ExitCode.cannotWrite, `${unitFile} exists and was not written by iid-docker-auth; nothing was changed`, {
      hint: 'pass --force to replace it, or customise the unit with a drop-in (systemctl edit iid-docker-auth) instead',
    })
  }
  // The unit honours what the environment file tells the tool: its deadline and its endpoint.
  const written = new Map(request.settings)
  const timeout = written.get(envNames.timeout)
  const deadlineSeconds = timeout === undefined ? defaultTimeoutSeconds : Number(timeout)
  const endpoint = written.get(envNames.endpoint)
  const unit = renderUnit(template, request.paths, { deadlineSeconds, ...(endpoint === undefined ? {} : { endpoint }) })
  steps.push(state.unit === unit ? { kind: 'unchanged', path: unitFile } : { kind: 'write', path: unitFile, content: unit, mode: 0o644 })

  steps.push(environmentStep(layout, request.settings, state.environment, request.force))

  if (layout.root === undefined) steps.push({ kind: 'systemctl', args: ['daemon-reload'] })
  if (request.enable && layout.root === undefined) steps.push({ kind: 'systemctl', args: ['enable', unitName] })
  // In an image, the links systemctl enable would make, made here: confined to the root.
  const linkTarget = join(layout.unitDir, unitName)
  if (request.enable && layout.root !== undefined)
    for (const path of wantsLinks(layout, template)) steps.push({ kind: 'link', path, target: linkTarget })
  // `start` returns when the unit has run, which it may take up to its TimeoutStartSec to do.
  const startSeconds = startTimeoutSeconds(template, deadlineSeconds) + startMarginSeconds
  if (request.now) steps.push({ kind: 'systemctl', args: ['start', unitName], timeoutSeconds: startSeconds })
  return steps
}

/**
 * The environment file's step. Mode 0644: it holds settings, never a secret, and
 * docker-credential-iid reads it with the rights of whoever runs docker.
 */
export function environmentStep(
  layout: Layout,
  settings: ReadonlyArray<readonly [string, string]>,
  current: string | undefined,
  force: boolean,
): Step {
  const envFile = environmentPath(layout)
  const environment = renderEnvironmentFile(settings)
  if (current !== undefined && current !== environment && !isUneditedEnvironmentFile(current) && !force) {
    throw new CliError(ExitCode.cannotWrite, `${envFile} was edited by hand; nothing was changed`, {
      hint:
        'keep your edits (the unit and docker-credential-iid read that file), ' +
        'or pass --force to replace it with the settings given now',
    })
  }
  return current === environment
    ? { kind: 'unchanged', path: envFile }
    : { kind: 'write', path: envFile, content: environment, mode: 0o644 }
}

export function planUninstall(layout: Layout, state: InstalledState, force: boolean): Step[] {
  const steps: Step[] = []
  const unitFile = unitPath(layout)
  let unitRemoved = false
  if (state.unit !== undefined) {
    if (isOurUnit(state.unit) || force) {
      // A unit removed while active stays loaded (RemainAfterExit) until stopped.
      if (layout.root === undefined)
        steps.push({ kind: 'systemctl', args: ['stop', unitName] }, { kind: 'systemctl', args: ['disable', unitName] })
      else for (const path of state.links ?? []) steps.push({ kind: 'unlink', path })
      steps.push({ kind: 'remove', path: removalPath(layout, join(layout.unitDir, unitName)) })
      unitRemoved = true
    } else {
      steps.push({ kind: 'keep', path: unitFile, reason: 'not written by iid-docker-auth (pass --force to remove it)' })
    }
  }
  const envFile = environmentPath(layout)
  if (state.environment !== undefined) {
    if (state.packageUnit)
      steps.push({ kind: 'keep', path: envFile, reason: "the package's settings file (purging the package removes it)" })
    else if (isUneditedEnvironmentFile(state.environment) || force)
      steps.push({ kind: 'remove', path: removalPath(layout, environmentFilePath) })
    else steps.push({ kind: 'keep', path: envFile, reason: 'edited by hand (pass --force to remove it)' })
  }
  if (unitRemoved && layout.root === undefined) steps.push({ kind: 'systemctl', args: ['daemon-reload'] })
  return steps
}
