// `install` and `uninstall`: put the unit and its environment file in place (or take them away)
// and tell systemd. A pure plan from what is on disk now, then the steps run in order, nypm-style.

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type CliIo, loggerFor } from '../cli/io.js'
import type { Logger } from '../cli/log.js'
import { type OutputFlags, type WriteFlags, configSetting, defaultTimeoutSeconds, envNames, installSettings, lockTimeoutMs, resolveOutput, withVariables } from '../cli/options.js'
import { absolute } from '../config/locations.js'
import { failureReport, jsonError, reportConfigs, reportError } from '../cli/report.js'
import { planCredentialHelper } from '../config/plans.js'
import { defaultUsername } from '../imds/identity.js'
import { firstFailure, preflight, updateAll } from '../fs/update.js'
import { helperCommand } from './credential-helper.js'
import { CliError, ExitCode, errnoOf, usageError } from '../errors.js'
import { resolveForRemoval, resolveTarget, walkPath } from '../fs/resolve-path.js'
import { actorFor, requireRootOnly, userName } from '../fs/acting-user.js'
import { ensureDirectories, readConfigFile, removeLeftoverTemps, writeAtomic } from '../fs/config-file.js'
import type { ErrorInfo } from '../fs/update.js'
import { isUneditedEnvironmentFile, renderEnvironmentFile } from '../systemd/environment-file.js'
import { type Systemctl, runSystemctl } from '../systemd/systemctl.js'
import {
  type UnitPaths,
  defaultUnitDir,
  environmentFilePath,
  isOurUnit,
  renderUnit,
  rootHome,
  startMarginSeconds,
  startTimeoutSeconds,
  unitName,
} from '../systemd/unit.js'

export type Step =
  | { readonly kind: 'write'; readonly path: string; readonly content: string; readonly mode: number }
  | { readonly kind: 'unchanged'; readonly path: string }
  | { readonly kind: 'remove'; readonly path: string }
  | { readonly kind: 'keep'; readonly path: string; readonly reason: string }
  /** timeoutSeconds: how long to wait for systemctl when the default is not enough. */
  | { readonly kind: 'systemctl'; readonly args: readonly string[]; readonly timeoutSeconds?: number }

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

/**
 * Where `path` inside the layout's root really is on this machine: never outside the root
 * (resolve-path.ts), and on a way only root may change (a unit is loaded as root).
 */
export function hostPath(layout: Layout, path: string): string {
  const host = resolveTarget(path, layout.root ?? '/')
  requireRootOnly(host)
  return host
}
export const unitPath = (layout: Layout): string => hostPath(layout, join(layout.unitDir, unitName))
export const environmentPath = (layout: Layout): string => hostPath(layout, environmentFilePath)
/** The same, but a symlink at the last name is what gets removed, not what it points to. */
function removalPath(layout: Layout, path: string): string {
  const host = resolveForRemoval(path, layout.root ?? '/')
  requireRootOnly(host)
  return host
}

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
  // The unit honours what the environment file tells the tool: its deadline and its endpoint.
  const written = new Map(request.settings)
  const timeout = written.get(envNames.timeout)
  const deadlineSeconds = timeout === undefined ? defaultTimeoutSeconds : Number(timeout)
  const endpoint = written.get(envNames.endpoint)
  const unit = renderUnit(template, request.paths, { deadlineSeconds, ...(endpoint === undefined ? {} : { endpoint }) })
  steps.push(state.unit === unit ? { kind: 'unchanged', path: unitFile } : { kind: 'write', path: unitFile, content: unit, mode: 0o644 })

  steps.push(environmentStep(layout, request.settings, state.environment, request.force))

  if (layout.root === undefined) steps.push({ kind: 'systemctl', args: ['daemon-reload'] })
  if (request.enable) steps.push({ kind: 'systemctl', args: withRoot(layout, ['enable', unitName]) })
  // `start` returns when the unit has run, which it may take up to its TimeoutStartSec to do.
  if (request.now) steps.push({ kind: 'systemctl', args: ['start', unitName], timeoutSeconds: startTimeoutSeconds(template, deadlineSeconds) + startMarginSeconds })
  return steps
}

/**
 * The environment file's step. Mode 0644: it holds settings, never a secret, and
 * docker-credential-iid reads it with the rights of whoever runs docker.
 */
export function environmentStep(layout: Layout, settings: ReadonlyArray<readonly [string, string]>, current: string | undefined, force: boolean): Step {
  const envFile = environmentPath(layout)
  const environment = renderEnvironmentFile(settings)
  if (current !== undefined && current !== environment && !isUneditedEnvironmentFile(current) && !force) {
    throw new CliError(ExitCode.cannotWrite, `${envFile} was edited by hand; nothing was changed`, {
      hint: 'keep your edits (the unit and docker-credential-iid read that file), or pass --force to replace it with the settings given now',
    })
  }
  return current === environment ? { kind: 'unchanged', path: envFile } : { kind: 'write', path: envFile, content: environment, mode: 0o644 }
}

export function planUninstall(layout: Layout, state: InstalledState, force: boolean): Step[] {
  const steps: Step[] = []
  const unitFile = unitPath(layout)
  let unitRemoved = false
  if (state.unit !== undefined) {
    if (isOurUnit(state.unit) || force) {
      // A unit removed while active stays loaded (RemainAfterExit) until stopped.
      if (layout.root === undefined) steps.push({ kind: 'systemctl', args: ['stop', unitName] })
      steps.push({ kind: 'systemctl', args: withRoot(layout, ['disable', unitName]) })
      steps.push({ kind: 'remove', path: removalPath(layout, join(layout.unitDir, unitName)) })
      unitRemoved = true
    } else {
      steps.push({ kind: 'keep', path: unitFile, reason: 'not written by iid-docker-auth (pass --force to remove it)' })
    }
  }
  const envFile = environmentPath(layout)
  if (state.environment !== undefined) {
    if (isUneditedEnvironmentFile(state.environment) || force) steps.push({ kind: 'remove', path: removalPath(layout, environmentFilePath) })
    else steps.push({ kind: 'keep', path: envFile, reason: 'edited by hand (pass --force to remove it)' })
  }
  if (unitRemoved && layout.root === undefined) steps.push({ kind: 'systemctl', args: ['daemon-reload'] })
  return steps
}

/**
 * A file that a root unit loads, if present. One that is not root's alone (another owner, or
 * writable by others) could set NODE_OPTIONS for root: refused unless --force, which replaces it.
 */
async function readIfPresent(path: string, force: boolean): Promise<string | undefined> {
  const snapshot = await readConfigFile(path, 1024 * 1024)
  const identity = snapshot.identity
  if (identity === undefined) return undefined
  if (process.geteuid?.() === 0 && (identity.uid !== 0 || (identity.mode & 0o022) !== 0)) {
    if (force) return ''
    throw new CliError(ExitCode.cannotWrite, `${path} belongs to ${userName(identity.uid)} with mode ${identity.mode.toString(8).padStart(4, '0')}, yet a root unit loads it; nothing was changed`, {
      hint: 'check what is in it, then pass --force to replace it with a root-owned copy',
    })
  }
  return Buffer.from(snapshot.bytes).toString('utf8')
}

export async function readInstalledState(layout: Layout, force: boolean): Promise<InstalledState> {
  return { unit: await readIfPresent(unitPath(layout), force), environment: await readIfPresent(environmentPath(layout), force) }
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
    // An install or uninstall killed mid-write left its temp file beside this one: ours to remove.
    if (step.kind === 'write' || step.kind === 'unchanged' || step.kind === 'remove') {
      for (const path of await removeLeftoverTemps(step.path)) log.debug(`removed ${path}, left by a run that was killed mid-write`)
    }
    switch (step.kind) {
      case 'write': {
        await ensureDirectories(dirname(step.path), 0o755)
        await readConfigFile(step.path, 1024 * 1024) // refuses what is not a regular file
        // Never the previous owner: what a root unit loads is root's.
        await writeAtomic(step.path, step.content, { previous: undefined, mode: step.mode, stillCurrent: async () => true, onWarning: (warning) => log.warn(warning) })
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
        await systemctl(step.args, step.timeoutSeconds)
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

export interface InstallFlags extends WriteFlags {
  root?: string
  unitDir?: string
  enable?: boolean
  now?: boolean
  force?: boolean
  node?: string
  cli?: string
  credentialHelper?: boolean
}

const jsonStep = (step: Step) =>
  step.kind === 'systemctl' ? { action: step.kind, args: step.args } : { action: step.kind, path: step.path, ...(step.kind === 'keep' ? { reason: step.reason } : {}) }

/** Plans, prints or runs the steps, and reports them; shared by install and uninstall. */
async function applySteps(command: string, layout: Layout, steps: readonly Step[], flags: OutputFlags & { dryRun?: boolean }, io: CliIo): Promise<number> {
  const output = resolveOutput(flags, io.env)
  const log = loggerFor(output.verbosity, io)
  const done: Step[] = []
  let error: ErrorInfo | undefined
  if (flags.dryRun) {
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
    io.stdout(
      `${JSON.stringify({ ok: exitCode === 0, exitCode, command, dryRun: flags.dryRun ?? false, root: layout.root ?? null, steps: (flags.dryRun ? steps : done).map(jsonStep), error: jsonError(error) })}\n`,
    )
  }
  return exitCode
}

function layoutFrom(flags: { root?: string; unitDir?: string; now?: boolean }, io: CliIo): Layout {
  if (flags.root !== undefined && flags.now) throw usageError('--now cannot start a unit in an alternate --root', 'boot the image, or drop --now')
  if (flags.unitDir !== undefined && !flags.unitDir.startsWith('/')) throw usageError(`--unit-dir ${JSON.stringify(flags.unitDir)} must be absolute (inside --root when given)`, 'e.g. --unit-dir /etc/systemd/system')
  const root = flags.root === undefined ? undefined : absolute(flags.root, '--root', io.cwd)
  // A mistyped --root would otherwise become a new tree (install) or an empty one (uninstall).
  if (root !== undefined) {
    const stat = statSync(root, { throwIfNoEntry: false })
    if (stat === undefined) throw usageError(`--root ${root} does not exist`, 'give the root of an existing image tree, e.g. --root /mnt/image')
    if (!stat.isDirectory()) throw usageError(`--root ${root} is not a directory`, 'give the root of an existing image tree, e.g. --root /mnt/image')
  }
  return defaultLayout(root, flags.unitDir)
}

/** The image's /etc/passwd, read as any file from outside: bounded, never blocking; undefined if absent. */
async function readPasswd(layout: Layout): Promise<string | undefined> {
  const snapshot = await readConfigFile(hostPath(layout, '/etc/passwd'), 16 * 1024 * 1024)
  return snapshot.identity === undefined ? undefined : Buffer.from(snapshot.bytes).toString('utf8')
}

/** A refusal before any step ran still reports, with --json, the root it was refused for. */
async function reportingRoot(command: 'install' | 'uninstall', flags: InstallFlags, io: CliIo, run: (layout: Layout) => Promise<number>): Promise<number> {
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
  return reportingRoot('install', flags, io, (layout) => installIn(layout, flags, io))
}

async function installIn(layout: Layout, flags: InstallFlags, io: CliIo): Promise<number> {
  const configFiles = configSetting(flags, {})?.items ?? [join(rootHome(await readPasswd(layout)), '.docker', 'config.json')]
  const log = loggerFor(resolveOutput(flags, io.env).verbosity, io)
  if (flags.credentialHelper) {
    for (const name of ['now', 'node', 'cli', 'unitDir'] as const) {
      if (flags[name] !== undefined) throw usageError(`--${name === 'unitDir' ? 'unit-dir' : name} is for the boot unit, which --credential-helper does not install`, 'drop it, or run install without --credential-helper for the unit')
    }
    return installCredentialHelper(flags, io, layout, installSettings(flags, configFiles), configFiles)
  }
  const cli = flags.cli ?? realpathSync(process.argv[1] ?? '')
  const node = flags.node ?? process.execPath
  if (/\/_npx\//.test(cli)) log.warn(`the unit would run ${cli} from npx's cache, which npm may delete; install the package (npm install -g iid-docker-auth) and run install from there, or pass --cli`)
  for (const path of [node, cli]) {
    if (/^\/(var\/)?tmp\//.test(path)) log.warn(`the unit runs with PrivateTmp=yes and cannot see ${path}; install node and the package outside /tmp, or pass --node/--cli`)
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
      throw new CliError(ExitCode.cannotWrite, `${path}: the symlink ${theirs.path} on the way to it belongs to ${userName(theirs.uid)}, and would choose what the unit's ReadWritePaths= opens; nothing was changed`, {
        hint: `pass --config with the path it leads to (${walk.target})`,
      })
    }
    return { path, directory: dirname(walk.target) }
  })
  const request = { layout, paths: { node, cli, configFiles: files }, settings, enable: flags.enable ?? true, now: flags.now ?? false, force: flags.force ?? false }
  const steps = planInstall(request, await readInstalledState(layout, request.force), unitTemplate())
  return applySteps('install', layout, steps, flags, io)
}

export async function uninstall(flags: InstallFlags, io: CliIo): Promise<number> {
  resolveOutput(flags, io.env)
  return reportingRoot('uninstall', flags, io, async (layout) => applySteps('uninstall', layout, planUninstall(layout, await readInstalledState(layout, flags.force ?? false), flags.force ?? false), flags, io))
}

/**
 * `install --credential-helper`: the settings file docker-credential-iid reads, then
 * credHelpers["<registry>"] = "iid" in each config file (the locked merge `write` uses). No unit:
 * nothing needs to run at boot when clients ask for the credential on demand.
 */
async function installCredentialHelper(flags: InstallFlags, io: CliIo, layout: Layout, settings: ReadonlyArray<readonly [string, string]>, configFiles: readonly string[]): Promise<number> {
  const output = resolveOutput(flags, io.env)
  const log = loggerFor(output.verbosity, io)
  const dryRun = flags.dryRun ?? false
  const registries = settings.find(([name]) => name === envNames.registries)![1].split(',')
  const username = settings.find(([name]) => name === envNames.username)?.[1] ?? defaultUsername
  const steps = [environmentStep(layout, settings, (await readInstalledState(layout, flags.force ?? false)).environment, flags.force ?? false)]
  const done: Step[] = []
  let error: ErrorInfo | undefined
  try {
    // Every config file is read first: one that cannot be used stops the install before it writes anything.
    // Config files follow the rights rule (withRightsFor) where they are written; here only confined to the root.
    const locations = configFiles.map((path) => ({ path: resolveTarget(path, layout.root ?? '/'), source: '--config' }))
    const looks = await preflight(locations)
    const refused = looks.find((look) => look instanceof CliError)
    if (refused !== undefined) throw refused
    if (dryRun) steps.forEach((step) => log.info(describeStep(step, true)))
    else await runSteps(steps, runSystemctl, log, (step) => done.push(step))
    const outcomes = await updateAll(locations, (doc) => planCredentialHelper(doc, registries, username), { dryRun, log, lockTimeoutMs: lockTimeoutMs(io.env) }, looks)
    reportConfigs(outcomes, dryRun, 'install', log, io, output.json)
    for (const outcome of outcomes) {
      if (outcome.action === 'written' || outcome.action === 'would-write') done.push({ kind: 'write', path: outcome.path, content: '', mode: 0 })
      else if (outcome.action === 'unchanged') done.push({ kind: 'unchanged', path: outcome.path })
    }
    error = firstFailure(outcomes)
  } catch (e) {
    if (!(e instanceof CliError)) throw e
    error = { exitCode: e.exitCode, message: e.message, hint: e.hint }
    reportError(error, log)
  }
  if (error === undefined && !hasCommand(helperCommand, io.env['PATH'])) {
    log.warn(`${helperCommand} is not on PATH here; clients run it by that name (npm install -g iid-docker-auth puts it there, or link bin/${helperCommand}.cjs)`)
  }
  const exitCode = error?.exitCode ?? ExitCode.ok
  if (output.json) {
    io.stdout(`${JSON.stringify({ ok: exitCode === 0, exitCode, command: 'install', dryRun, root: layout.root ?? null, steps: (dryRun ? [...steps, ...done] : done).map(jsonStep), error: jsonError(error) })}\n`)
  }
  return exitCode
}

/** Whether a program of that name is on a PATH. */
function hasCommand(name: string, path: string | undefined): boolean {
  return (path ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, name)))
}
