// `install` and `uninstall`: put the unit and its environment file in place (or take them away)
// and tell systemd. A pure plan from what is on disk now, then the steps run in order, nypm-style.

import { readFileSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureDirectory, readConfigFile, writeAtomic } from '../fs/config-file.js'
import { CliError, ExitCode, errnoOf } from '../errors.js'
import type { Logger } from '../cli/log.js'
import type { Systemctl } from '../systemd/systemctl.js'
import {
  type UnitPaths,
  defaultUnitDir,
  environmentFilePath,
  isOurUnit,
  isUneditedEnvironmentFile,
  renderEnvironmentFile,
  renderUnit,
  unitName,
} from '../systemd/unit.js'

export type Step =
  | { readonly kind: 'write'; readonly path: string; readonly content: string; readonly mode: number }
  | { readonly kind: 'unchanged'; readonly path: string }
  | { readonly kind: 'remove'; readonly path: string }
  | { readonly kind: 'keep'; readonly path: string; readonly reason: string }
  | { readonly kind: 'systemctl'; readonly args: readonly string[] }

export interface Layout {
  /** Alternate root (an image being built), or undefined for this machine. */
  readonly root: string | undefined
  /** Unit directory as seen inside the root. */
  readonly unitDir: string
}

export interface InstalledState {
  readonly unit: string | undefined
  readonly environment: string | undefined
}

export const hostPath = (layout: Layout, path: string): string => (layout.root === undefined ? path : join(layout.root, path))
export const unitPath = (layout: Layout): string => hostPath(layout, join(layout.unitDir, unitName))
export const environmentPath = (layout: Layout): string => hostPath(layout, environmentFilePath)

const withRoot = (layout: Layout, args: string[]): string[] => (layout.root === undefined ? args : ['--root', layout.root, ...args])

/** Set by the bundler (scripts/build.mjs) to the text of systemd/iid-docker-auth.service. */
declare const __UNIT_TEMPLATE__: string | undefined

/** The unit as shipped in systemd/: built into the bundle, read from the source tree otherwise. */
export function unitTemplate(): string {
  if (typeof __UNIT_TEMPLATE__ === 'string') return __UNIT_TEMPLATE__
  return readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'systemd', unitName), 'utf8')
}

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
  if (state.unit !== undefined && !isOurUnit(state.unit) && !request.force) {
    throw new CliError(ExitCode.cannotWrite, `${unitFile} exists and was not written by iid-docker-auth; nothing was changed`, {
      hint: 'pass --force to replace it, or customise the unit with a drop-in (systemctl edit iid-docker-auth) instead',
    })
  }
  const unit = renderUnit(template, request.paths)
  steps.push(state.unit === unit ? { kind: 'unchanged', path: unitFile } : { kind: 'write', path: unitFile, content: unit, mode: 0o644 })

  const envFile = environmentPath(layout)
  const environment = renderEnvironmentFile(request.settings)
  if (state.environment !== undefined && state.environment !== environment && !isUneditedEnvironmentFile(state.environment) && !request.force) {
    throw new CliError(ExitCode.cannotWrite, `${envFile} was edited by hand; nothing was changed`, {
      hint: 'keep your edits (the unit reads that file), or pass --force to replace it with the settings given now',
    })
  }
  steps.push(state.environment === environment ? { kind: 'unchanged', path: envFile } : { kind: 'write', path: envFile, content: environment, mode: 0o600 })

  if (layout.root === undefined) steps.push({ kind: 'systemctl', args: ['daemon-reload'] })
  if (request.enable) steps.push({ kind: 'systemctl', args: withRoot(layout, ['enable', unitName]) })
  if (request.now) steps.push({ kind: 'systemctl', args: ['start', unitName] })
  return steps
}

export function planUninstall(layout: Layout, state: InstalledState, force: boolean): Step[] {
  const steps: Step[] = []
  const unitFile = unitPath(layout)
  let unitRemoved = false
  if (state.unit !== undefined) {
    if (isOurUnit(state.unit) || force) {
      steps.push({ kind: 'systemctl', args: withRoot(layout, ['disable', unitName]) })
      steps.push({ kind: 'remove', path: unitFile })
      unitRemoved = true
    } else {
      steps.push({ kind: 'keep', path: unitFile, reason: 'not written by iid-docker-auth (pass --force to remove it)' })
    }
  }
  const envFile = environmentPath(layout)
  if (state.environment !== undefined) {
    if (isUneditedEnvironmentFile(state.environment) || force) steps.push({ kind: 'remove', path: envFile })
    else steps.push({ kind: 'keep', path: envFile, reason: 'edited by hand (pass --force to remove it)' })
  }
  if (unitRemoved && layout.root === undefined) steps.push({ kind: 'systemctl', args: ['daemon-reload'] })
  return steps
}

async function readIfPresent(path: string): Promise<string | undefined> {
  const snapshot = await readConfigFile(path, 1024 * 1024)
  return snapshot.identity === undefined ? undefined : Buffer.from(snapshot.bytes).toString('utf8')
}

export async function readInstalledState(layout: Layout): Promise<InstalledState> {
  return { unit: await readIfPresent(unitPath(layout)), environment: await readIfPresent(environmentPath(layout)) }
}

export const describeStep = (step: Step, dryRun: boolean): string => {
  const would = (done: string, planned: string): string => (dryRun ? planned : done)
  switch (step.kind) {
    case 'write':
      return `${would('wrote', 'would write')} ${step.path} (mode ${step.mode.toString(8).padStart(4, '0')})`
    case 'unchanged':
      return `${step.path} already current`
    case 'remove':
      return `${would('removed', 'would remove')} ${step.path}`
    case 'keep':
      return `${would('kept', 'would keep')} ${step.path}: ${step.reason}`
    case 'systemctl':
      return `${would('ran', 'would run')} systemctl ${step.args.join(' ')}`
  }
}

/** Runs the steps in order and stops at the first failure, which it rethrows. */
export async function runSteps(steps: readonly Step[], systemctl: Systemctl, log: Logger, done: (step: Step) => void): Promise<void> {
  for (const step of steps) {
    switch (step.kind) {
      case 'write': {
        await ensureDirectory(dirname(step.path), 0o755)
        const snapshot = await readConfigFile(step.path, 1024 * 1024)
        await writeAtomic(step.path, step.content, { previous: snapshot.identity, mode: step.mode, stillCurrent: async () => true, onWarning: (warning) => log.warn(warning) })
        break
      }
      case 'remove':
        try {
          await unlink(step.path)
        } catch (error) {
          if (errnoOf(error) !== 'ENOENT') throw new CliError(ExitCode.cannotWrite, `cannot remove ${step.path}: ${errnoOf(error) ?? String(error)}`, { hint: 'check the permissions of that directory' })
        }
        break
      case 'systemctl':
        await systemctl(step.args)
        break
      case 'unchanged':
      case 'keep':
        break
    }
    log.info(describeStep(step, false))
    done(step)
  }
}

export const defaultLayout = (root: string | undefined, unitDir: string | undefined): Layout => ({ root, unitDir: unitDir ?? defaultUnitDir })
