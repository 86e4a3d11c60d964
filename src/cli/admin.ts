// CLI glue for the commands off the boot path (check, install, uninstall, remove), loaded on
// demand so that `write` at boot never pays for them.

import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { walkPath } from '../fs/acting-user.js'
import { type CheckLine, checkExitCode, configFacts, configLines, imdsLines, probeCredential, probeLine, unitEnvironment, unitLines } from '../commands/check.js'
import { type CliIo, checkTimeoutSeconds, jsonConfigs, jsonError, locationsFor, lockTimeoutMs, loggerFor, reportConfigs, reportError } from './shared.js'
import type { ErrorInfo } from '../fs/update.js'
import { CliError, ExitCode, usageError } from '../errors.js'
import { type InstanceIdentity, buildAuth, defaultUsername } from '../imds/identity.js'
import { fetchIdentity } from '../imds/client.js'
import { type Layout, type Step, defaultLayout, describeStep, planInstall, planUninstall, readInstalledState, runSteps, unitTemplate } from '../commands/install.js'
import { type Env, type OutputFlags, type WriteFlags, envNames, installSettings, resolveOutput, resolveWriteOptions } from './options.js'
import { probeRegistry } from '../registry/probe.js'
import { parseRegistryList } from '../config/registry-keys.js'
import { runRemove } from '../commands/remove.js'
import { runSystemctl, showUnit } from '../systemd/systemctl.js'
import { rootHome, unitName } from '../systemd/unit.js'

export interface RemoveFlags extends OutputFlags {
  registry?: string[]
  config?: string[]
  username?: string
  dryRun?: boolean
}

export async function remove(flags: RemoveFlags, io: CliIo): Promise<number> {
  const output = resolveOutput(flags, io.env)
  const log = loggerFor(output.verbosity, io)
  const registryValues = flags.registry?.length ? flags.registry : io.env[envNames.registries] ? [io.env[envNames.registries]!] : []
  if (registryValues.length === 0) throw usageError('no registry given', `pass --registry <host[:port]> (repeatable) or set ${envNames.registries}`)
  const username = flags.username ?? io.env[envNames.username] ?? defaultUsername
  const result = await runRemove({ registries: parseRegistryList(registryValues), username, dryRun: flags.dryRun ?? false }, locationsFor(flags, io), {
    log,
    lockTimeoutMs: lockTimeoutMs(io.env),
  })
  reportConfigs(result.configs, flags.dryRun ?? false, 'remove', log, io)
  if (output.json) {
    io.stdout(`${JSON.stringify({ ok: result.exitCode === ExitCode.ok, exitCode: result.exitCode, command: 'remove', dryRun: flags.dryRun ?? false, configs: jsonConfigs(result.configs), error: jsonError(result.error) })}\n`)
  }
  return result.exitCode
}

export interface CheckFlags extends WriteFlags {
  probe?: boolean
}

export async function check(flags: CheckFlags, io: CliIo): Promise<number> {
  const started = Date.now()
  // A bare `check` on an instance uses the unit's settings: flags, then the environment, then the file.
  const env: Env = { ...unitEnvironment(), ...io.env }
  const registryValues = flags.registry?.length ? flags.registry : env[envNames.registries] ? [env[envNames.registries]!] : []
  const options = resolveWriteOptions({ ...flags, registry: registryValues.length ? registryValues : ['placeholder.invalid'], timeout: flags.timeout ?? String(checkTimeoutSeconds) }, env)
  const registries = registryValues.length ? options.registries.map((r) => r.key) : []
  const log = loggerFor(options.verbosity, io)
  const lines: CheckLine[] = []
  const emit = (line: CheckLine): void => {
    lines.push(line)
    if (options.verbosity === 'quiet' && line.verdict === 'ok') return
    const priority = { ok: 6, warn: 4, fail: 3 }[line.verdict]
    const prefix = io.journal ? `<${priority}>` : ''
    io.stderr(`${prefix}${line.verdict.padEnd(5)} ${line.area.padEnd(9)} ${line.message}\n`)
    if (line.fix !== undefined) io.stderr(`${prefix}${' '.repeat(16)}fix: ${line.fix}\n`)
  }
  if (registries.length === 0) emit({ area: 'config', verdict: 'warn', message: 'no registry given, so no entry was checked', fix: `pass --registry <host[:port]> or set ${envNames.registries}`, exitCode: undefined })

  let identity: InstanceIdentity | undefined
  if (options.imdsDisabled) {
    emit({ area: 'imds', verdict: 'fail', message: 'AWS_EC2_METADATA_DISABLED=true: IMDS not asked', fix: 'unset AWS_EC2_METADATA_DISABLED', exitCode: ExitCode.imdsUnavailable })
  } else {
    const t0 = Date.now()
    try {
      identity = await fetchIdentity({ endpoint: options.endpoint, signature: options.signature, timeoutMs: options.timeoutMs, attemptTimeoutMs: options.attemptTimeoutMs, log })
      imdsLines({ endpoint: options.endpoint, ms: Date.now() - t0, identity, error: undefined }).forEach(emit)
    } catch (error) {
      if (!(error instanceof CliError)) throw error
      imdsLines({ endpoint: options.endpoint, ms: Date.now() - t0, identity: undefined, error }).forEach(emit)
    }
  }
  const expected = identity === undefined ? undefined : buildAuth(options.username, identity.signature, options.stripNewlines)
  const writeHint = (registry: string): string => `iid-docker-auth --registry ${registry}`
  const facts = []
  for (const location of locationsFor({ config: flags.config ?? (env[envNames.config] ? env[envNames.config]!.split(',') : undefined) }, { ...io, env })) {
    const f = await configFacts(location)
    facts.push(f)
    configLines(f, registries, options.username, expected, (r) => `${writeHint(r)} --config ${location.path}`).forEach(emit)
  }
  unitLines(existsSync('/run/systemd/system') ? await showUnit(unitName, ['LoadState', 'UnitFileState', 'ActiveState', 'Result', 'ExecMainStatus']) : undefined).forEach(emit)
  if (flags.probe) {
    for (const registry of registries) {
      const credential = probeCredential(facts, registry, identity, options.username, options.stripNewlines)
      if (credential === undefined) {
        emit({ area: 'probe', verdict: 'fail', message: `${registry}: no credential to probe with (no entry, and IMDS failed)`, fix: 'fix the lines above', exitCode: ExitCode.imdsUnavailable })
        continue
      }
      const decoded = Buffer.from(credential.auth, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      emit(probeLine(registry, await probeRegistry(registry, decoded.slice(0, colon), decoded.slice(colon + 1)), credential.from))
    }
  }
  const exitCode = checkExitCode(lines)
  if (options.json) {
    const report = {
      ok: exitCode === ExitCode.ok,
      exitCode,
      command: 'check',
      endpoint: options.endpoint,
      registries,
      identity: identity === undefined ? null : { instanceId: identity.instanceId, accountId: identity.accountId, region: identity.region, availabilityZone: identity.availabilityZone ?? null },
      checks: lines.map((l) => ({ area: l.area, verdict: l.verdict, message: l.message, fix: l.fix ?? null, exitCode: l.exitCode ?? null })),
      durationMs: Date.now() - started,
    }
    io.stdout(`${JSON.stringify(report)}\n`)
  }
  return exitCode
}

export interface InstallFlags extends WriteFlags {
  root?: string
  unitDir?: string
  enable?: boolean
  now?: boolean
  force?: boolean
  node?: string
  cli?: string
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
  return defaultLayout(flags.root === undefined ? undefined : resolve(io.cwd, flags.root), flags.unitDir)
}

export async function install(flags: InstallFlags, io: CliIo): Promise<number> {
  resolveOutput(flags, io.env)
  const layout = layoutFrom(flags, io)
  const passwd = (() => {
    try {
      return readFileSync(join(layout.root ?? '/', 'etc', 'passwd'), 'utf8')
    } catch {
      return undefined
    }
  })()
  const configFiles = flags.config?.length ? flags.config : [join(rootHome(passwd), '.docker', 'config.json')]
  const cli = flags.cli ?? realpathSync(process.argv[1] ?? '')
  const node = flags.node ?? process.execPath
  const log = loggerFor(resolveOutput(flags, io.env).verbosity, io)
  if (/\/_npx\//.test(cli)) log.warn(`the unit would run ${cli} from npx's cache, which npm may delete; install the package (npm install -g iid-docker-auth) and run install from there, or pass --cli`)
  for (const path of [node, cli]) {
    if (/^\/(var\/)?tmp\//.test(path)) log.warn(`the unit runs with PrivateTmp=yes and cannot see ${path}; install node and the package outside /tmp, or pass --node/--cli`)
  }
  const settings = installSettings(flags, configFiles)
  // Each file's directory as the unit will really write it: a symlinked --config, the target's.
  const files = configFiles.map((path) => ({ path, directory: dirname(walkPath(path, layout.root ?? '/').target) }))
  const request = { layout, paths: { node, cli, configFiles: files }, settings, enable: flags.enable ?? true, now: flags.now ?? false, force: flags.force ?? false }
  const steps = planInstall(request, await readInstalledState(layout), unitTemplate())
  return applySteps('install', layout, steps, flags, io)
}

export async function uninstall(flags: InstallFlags, io: CliIo): Promise<number> {
  resolveOutput(flags, io.env)
  const layout = layoutFrom(flags, io)
  return applySteps('uninstall', layout, planUninstall(layout, await readInstalledState(layout), flags.force ?? false), flags, io)
}

